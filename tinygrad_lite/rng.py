"""The package's random-number generator: one seedable numpy Generator shared by creation ops,
dropout, RReLU, nn.init and the data loaders."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the package's generator (like `torch.manual_seed`); returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when a function is not given `generator=`."""
    return _generator


def resolve(generator=None) -> np.random.Generator:
    """`generator` itself, a new Generator seeded with it if it is an int, or the package's."""
    if generator is None:
        return _generator
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"generator must be a numpy Generator, an int seed or None, got {type(generator).__name__}"
    )
