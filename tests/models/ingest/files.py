"""Upload files built in the test: valid ones, and every broken or malicious kind."""

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from models.ingest import Format, IngestError, IngestLimits, read_dataset


def refused(
    path: Path, fmt: Format, limits: IngestLimits | None = None, **kwargs: Any
) -> IngestError:
    """The IngestError read_dataset raises for `path` (the test fails if it reads)."""
    with pytest.raises(IngestError) as caught:
        read_dataset(path, fmt, limits=limits or IngestLimits(), **kwargs)
    return caught.value


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str, data: bytes = b"") -> bytes:
    """A .npy member declaring `shape` of `descr`, followed by `data` (whatever it declares)."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


def write_zip(
    path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_npz(path: Path, **arrays: np.ndarray[Any, Any]) -> Path:
    return write_zip(path, {f"{name}.npy": npy_bytes(a) for name, a in arrays.items()})


def image_bytes(pixels: np.ndarray[Any, Any], fmt: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels.astype(np.uint8))
    (image.convert(mode) if mode else image).save(buffer, format=fmt)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A 1x1 grayscale PNG whose header claims width x height (the pixel data stays 1x1)."""
    png = image_bytes(np.zeros((1, 1)))
    ihdr = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return png[:16] + ihdr + crc + png[33:]
