"""The one interface every encoder implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Encoder(ABC):
    """Maps text to float32 unit vectors of a fixed dimension (inner product = cosine)."""

    dim: int
    name: str

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, rows L2-normalised (zero rows allowed)."""

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
