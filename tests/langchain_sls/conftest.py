"""Fixtures for the langchain_sls tests (the fakes themselves are in lc_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

# the test modules import their fakes from lc_fakes.py beside this file; make that
# work under --import-mode=importlib too (which does not put test folders on sys.path)
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from lc_fakes import make_router  # noqa: E402

from langchain_sls import SmartRouterLLM


@pytest.fixture
def two_fakes() -> tuple[FakeListChatModel, FakeListChatModel]:
    return (FakeListChatModel(responses=["cheap answer"]), FakeListChatModel(responses=["premium answer"]))


@pytest.fixture
def router(two_fakes: tuple[FakeListChatModel, FakeListChatModel]) -> SmartRouterLLM:
    cheap, premium = two_fakes
    return make_router([
        {"name": "cheap", "model": cheap, "price_in": 0.1, "price_out": 0.4},
        {"name": "premium", "model": premium, "price_in": 5.0, "price_out": 15.0},
    ])
