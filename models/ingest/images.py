"""image_zip uploads: one folder per class of PNG/JPEG images, all of one size and mode.

Every member's path and every image's header (format, size, mode) is checked before any
image is decoded. Grayscale images are (H, W) like the built-in digits, which a CNN gives
their channel axis; RGB images are channels-first (3, H, W).
"""

import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from math import prod
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from models.ingest.archive import ZIP_ERRORS, open_zip
from models.ingest.base import body_error
from models.ingest.dataset import Features, Reading
from models.ingest.limits import IngestLimits

EXTENSIONS = (".png", ".jpg", ".jpeg")
CHANNELS = {"L": 1, "RGB": 3}
BLOCK_VALUES = 4 * 1024 * 1024  # decoded values handed over at a time (16 MB of float32)
LAYOUT = (
    "an image_zip holds one folder per class at its top, each holding PNG or JPEG images "
    "(zip from inside the data folder: cd data && zip -r ../data.zip .)"
)
Member = tuple[str, zipfile.ZipInfo]  # class name, image


def read_image_zip(path: Path, reading: Reading, limits: IngestLimits) -> None:
    """Check the archive's layout and image headers, then decode the images into `reading`."""
    with open_zip(path, limits, "image_zip") as archive:
        members = _members(archive)
        example_shape = _check_headers(archive, members, limits)
        per_block = max(1, BLOCK_VALUES // prod(example_shape))
        for name, group in groupby(members, key=lambda member: member[0]):
            images = [info for _, info in group]
            for start in range(0, len(images), per_block):
                chunk = images[start : start + per_block]
                block = np.stack([_decoded(archive, info) for info in chunk])
                reading.add("train", block, np.full(len(chunk), name))


def _members(archive: zipfile.ZipFile) -> list[Member]:
    """(class, image) for every image, sorted; an error for anything but class/image files."""
    members = []
    for info in archive.infolist():
        parts = PurePosixPath(info.filename).parts
        # Finder's resource forks and hidden files ride along in zips made on a Mac.
        if parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            continue
        if info.is_dir() and len(parts) == 1:
            continue
        if len(parts) != 2 or info.is_dir():
            raise body_error(f"member {info.filename!r} is not a class folder's image; {LAYOUT}")
        if not parts[1].lower().endswith(EXTENSIONS):
            raise body_error(f"member {info.filename!r} is not a .png, .jpg or .jpeg image")
        members.append((parts[0], info))
    return sorted(members, key=lambda member: (member[0], member[1].filename))


def _check_headers(
    archive: zipfile.ZipFile, members: list[Member], limits: IngestLimits
) -> tuple[int, ...]:
    """Every image's size and mode, the same for all and within the bounds; the example shape."""
    first: tuple[str, tuple[int, int], str] | None = None
    for _, info in members:
        with _opened(archive, info) as image:
            size, mode = image.size, image.mode
        if mode not in CHANNELS:
            raise body_error(
                f"image {info.filename!r} has mode {mode}; images must be grayscale (L) or RGB "
                "(convert them, e.g. with Pillow's Image.convert)"
            )
        if first is None:
            first = (info.filename, size, mode)
            limits.check("max_features", prod(size) * CHANNELS[mode], "values per image")
        elif (size, mode) != first[1:]:
            raise body_error(
                f"image {info.filename!r} is {size[0]}x{size[1]} {mode} but {first[0]!r} is "
                f"{first[1][0]}x{first[1][1]} {first[2]}; all images must have one size and mode"
            )
    if first is None:
        raise body_error(f"no images; {LAYOUT}")
    (width, height), channels = first[1], CHANNELS[first[2]]
    example_shape = (height, width) if channels == 1 else (channels, height, width)
    limits.check("max_examples", len(members), "images")
    limits.check("max_values", len(members) * prod(example_shape), "input values")
    return example_shape


@contextmanager
def _opened(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[Image.Image]:
    """An image member opened lazily (its header only) as PNG or JPEG; errors name the member."""
    try:
        with warnings.catch_warnings():
            # Pillow's decompression-bomb guard warns before it refuses: refuse at once.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with archive.open(info) as stream, Image.open(stream, formats=["PNG", "JPEG"]) as image:
                yield image
    except (*ZIP_ERRORS, Image.DecompressionBombError, Image.DecompressionBombWarning,
            SyntaxError) as exc:  # fmt: skip
        raise body_error(f"image {info.filename!r} could not be read: {exc}") from None


def _decoded(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Features:
    """One image's pixels as float32, channels first for RGB."""
    with _opened(archive, info) as image:
        pixels = np.asarray(image, dtype=np.float32)
    return pixels if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
