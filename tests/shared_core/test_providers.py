"""Provider specs: what a config's `class:` may name."""

from __future__ import annotations

import collections

import pytest

from shared_core.errors import ConfigError
from shared_core.providers import import_class


def test_import_class_returns_only_subclasses_of_the_base():
    assert import_class("collections.OrderedDict", "x.class", base=dict) is collections.OrderedDict
    assert import_class("collections:OrderedDict", "x.class") is collections.OrderedDict
    for path in ("subprocess.Popen", "os.system", "os.path.join"):
        with pytest.raises(ConfigError, match=f"x.class.: '{path}' is not a model class") as err:
            import_class(path, "x.class", base=int, kind="model")
        assert err.value.field == "x.class"
