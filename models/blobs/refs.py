"""What a blob is called: its sha256 reference, the checks on names, and the errors."""

import re
from dataclasses import dataclass

_DIGEST = re.compile(r"[0-9a-f]{64}")
# Segments start with a letter or digit: no "..", no hidden names (the local spool is ".spool").
_NAMED_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: the sha256 of its content (lowercase hex) and its size in bytes."""

    sha256: str
    size: int


class BlobNotFoundError(LookupError):
    """No blob (or named object) under that digest (or key)."""


class BlobTooLargeError(ValueError):
    """A blob past a byte bound; `max_bytes` is the bound, for the 413 that names it."""

    def __init__(self, what: str, max_bytes: int) -> None:
        super().__init__(f"{what} is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class BlobCorruptError(RuntimeError):
    """Bytes read back from the store whose sha256 is not the digest they were stored under."""


def check_digest(digest: str) -> str:
    """`digest` if it is a lowercase sha256 hex digest; ValueError otherwise (no path tricks)."""
    if not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 hex digest (64 lowercase hex characters): {digest!r}")
    return digest


def check_key(key: str) -> str:
    """`key` if it is a relative path of `[A-Za-z0-9._-]` segments; ValueError otherwise."""
    if not _NAMED_KEY.fullmatch(key):
        raise ValueError(
            f"not a blob key (segments of letters, digits, '.', '_', '-' joined by '/', "
            f"each starting with a letter or digit): {key!r}"
        )
    return key
