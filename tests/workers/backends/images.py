"""Small synthetic colour images for backend tests: no built-in dataset has channels."""

import numpy as np

from workers.datasets import DatasetArrays, Split

RGB_SHAPE = (3, 8, 6)  # channels first, as image_zip uploads are; not square, to catch H/W swaps


def rgb_split(n: int, rng: np.random.Generator, shape: tuple[int, ...]) -> Split:
    """Noise images whose class k brightens the top half of channel k: channel and place matter."""
    y = np.arange(n) % 3
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    x[np.arange(n), y, : shape[1] // 2] += 0.5
    return Split(x=x, y=y)


def rgb_arrays(shape: tuple[int, ...] = RGB_SHAPE, seed: int = 0) -> DatasetArrays:
    """300 training, 90 validation and 90 test images of three classes, channels first."""
    rng = np.random.default_rng(seed)
    train, val, test = (rgb_split(n, rng, shape) for n in (300, 90, 90))
    return DatasetArrays(train=train, val=val, test=test, n_classes=3)
