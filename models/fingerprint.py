"""One canonical hash of JSON data: equal for equal content, whatever the key order."""

import hashlib
import json
from typing import Any


def fingerprint(data: Any) -> str:
    """SHA-256 of `data` as compact JSON with sorted keys."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
