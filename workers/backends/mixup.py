"""Mixup's draws, the same on every backend: lam ~ Beta(alpha, alpha) and a batch permutation.

A numpy generator seeded with `[seed, 2]` (the batch order's is `[seed, 1]`) draws them, so
torch and Keras mix the same pairs with the same weights; its state travels in checkpoints
as `rng/mixup`, so a resumed run draws what the uninterrupted run would have drawn.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

STATE_KEY = "rng/mixup"
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class MixDraw:
    """One batch's mixing: `lam * x + rest * x[perm]` (lam and rest float32, lam + rest = 1)."""

    lam: np.float32
    rest: np.float32
    perm: NDArray[np.int64]


class MixupDraws:
    """The run's mixup generator: one `draw` per training batch, its state as an array."""

    def __init__(self, alpha: float, seed: int) -> None:
        self.alpha = alpha
        self._rng = np.random.Generator(np.random.PCG64([seed, 2]))

    def draw(self, n: int) -> MixDraw:
        """lam for the batch, then a permutation of its n examples."""
        lam = np.float32(self._rng.beta(self.alpha, self.alpha))
        return MixDraw(lam=lam, rest=np.float32(1.0) - lam, perm=self._rng.permutation(n))

    def state(self) -> NDArray[np.uint64]:
        """PCG64's 128-bit state and increment, and its cached half-word, as six uint64s."""
        raw: Mapping[str, Any] = self._rng.bit_generator.state
        state, inc = raw["state"]["state"], raw["state"]["inc"]
        words = [state >> 64, state & _MASK, inc >> 64, inc & _MASK]
        return np.array([*words, raw["has_uint32"], raw["uinteger"]], dtype=np.uint64)

    def load_state(self, array: NDArray[Any]) -> None:
        """Continue from `state()`."""
        hi, lo, inc_hi, inc_lo, has_uint32, uinteger = (int(v) for v in np.asarray(array))
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": hi << 64 | lo, "inc": inc_hi << 64 | inc_lo},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }
