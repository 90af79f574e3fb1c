"""Zip archives (NPZ, image_zip) checked from their directory before any member is read."""

import re
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from models.ingest.base import body_error
from models.ingest.limits import MIB, IngestLimits

# A member smaller than this cannot inflate into anything dangerous, whatever its ratio.
RATIO_FLOOR_BYTES = 1 * MIB
# Central directory bytes allowed per member: a 46-byte record plus a name of ~100 characters
# and its extra fields. zipfile builds a ZipInfo for every record, so this bounds that memory.
DIRECTORY_BYTES_PER_MEMBER = 200
DRIVE = re.compile(r"^[A-Za-z]:")
# What reading a damaged member raises: zipfile's own errors, zlib's for a corrupt deflate
# stream, EOFError for a cut one, NotImplementedError for a compression zipfile lacks.
# numpy parses a .npy header as a Python literal: a mangled one raises tokenize's and ast's errors.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    SyntaxError,
    tokenize.TokenError,
)
END_ENTRIES, END_DIRECTORY_BYTES = 4, 5  # zipfile's _ECD_ENTRIES_TOTAL and _ECD_SIZE


@contextmanager
def open_zip(path: Path, limits: IngestLimits, what: str) -> Iterator[zipfile.ZipFile]:
    """The archive, its members checked for their paths, sizes and compression ratios."""
    with path.open("rb") as file:
        _check_directory_size(file, limits, what)
        try:
            archive = zipfile.ZipFile(file)
        except ZIP_ERRORS as exc:
            raise body_error(f"not a readable zip archive ({what}): {exc}") from None
        with archive:
            check_members(archive, limits)
            yield archive


def _check_directory_size(file: BinaryIO, limits: IngestLimits, what: str) -> None:
    """Bound the central directory from its end record, before zipfile parses it whole."""
    # zipfile's own end-record reader (zip64 and archive comments included); it is private
    # but has kept its shape since Python 2, and nothing public reads the record alone.
    end = zipfile._EndRecData(file)  # type: ignore[attr-defined]
    if end is None:
        raise body_error(f"not a zip archive ({what}), or a truncated one: no end record")
    limits.check("max_members", end[END_ENTRIES], "archive members")
    if end[END_DIRECTORY_BYTES] > limits.max_members * DIRECTORY_BYTES_PER_MEMBER:
        raise limits.exceeded(
            "max_members",
            end[END_DIRECTORY_BYTES] // DIRECTORY_BYTES_PER_MEMBER,
            f"archive directory bytes / {DIRECTORY_BYTES_PER_MEMBER}",
        )


def check_members(archive: zipfile.ZipFile, limits: IngestLimits) -> None:
    """Every member, refused for an unsafe path, encryption, its size or its ratio."""
    members = archive.infolist()
    limits.check("max_members", len(members), "archive members")
    names = set()
    for info in members:
        check_path(info.filename)
        if info.filename in names:
            raise body_error(f"member {info.filename!r} appears twice in the archive")
        names.add(info.filename)
        if info.flag_bits & 0x1:
            raise body_error(f"member {info.filename!r} is encrypted")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES:
            limits.check(
                "max_compression_ratio", round(ratio, 1), f"compression ratio of {info.filename!r}"
            )
    total = sum(info.file_size for info in members)
    limits.check("max_uncompressed_bytes", total, "uncompressed bytes of the archive's members")


def check_path(name: str) -> None:
    """Refuse a member name that is absolute or climbs out of the archive."""
    if name.startswith(("/", "\\")) or DRIVE.match(name) or "\\" in name:
        raise body_error(f"member {name!r} has an absolute or Windows path; paths are relative")
    if ".." in PurePosixPath(name).parts:
        raise body_error(f"member {name!r} has a path outside the archive ('..')")
