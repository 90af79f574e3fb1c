"""A real S3-compatible server for tests and benches: moto's standalone server, in a subprocess."""

import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import s3fs

from tests.integration.stack import free_port, poll, process_env, running

BUCKET = "reglab-test"


@dataclass(frozen=True)
class S3Server:
    """Where the server listens, and the s3fs options (`storage_options`) that reach it."""

    endpoint_url: str

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments for `BlobStore(url, **options)` and `s3fs.S3FileSystem`."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": "testing",
            "secret": "testing",
        }


def _answers(url: str) -> bool | None:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return None


@contextmanager
def moto_server(log: Path) -> Iterator[S3Server]:
    """`python -m moto.server` on a free port, answering, with the bucket `BUCKET` created."""
    port = free_port()
    server = S3Server(f"http://127.0.0.1:{port}")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(command, process_env({}), log):
        poll(lambda: _answers(server.endpoint_url), timeout=60)
        s3fs.S3FileSystem(**server.options).mkdir(BUCKET)
        yield server
