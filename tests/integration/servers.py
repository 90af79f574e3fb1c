"""Private Redis and Postgres servers that a chaos test may kill and restart at will."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import redis

from tests.integration.stack import poll


class PrivateRedis:
    """A Redis of this test's own: kill -9 loses every message in it, `stop` keeps them."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.dump = log.with_name(f"redis-{port}.rdb")

    def start(self) -> None:
        """Start the server (with what `stop` saved, if anything) and wait until it answers."""
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        files = ["--dir", str(self.dump.parent), "--dbfilename", self.dump.name]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, *files, "--save", "", "--appendonly", "no"], stdout=out, stderr=out
            )
        client = redis.Redis(port=self.port)
        poll(lambda: _answers(client) or None, timeout=20)

    def stop(self) -> None:
        """Shut the server down, saving its data for the next `start`."""
        redis.Redis(port=self.port).shutdown(save=True)
        if self.process is not None:
            self.process.wait()

    def kill(self) -> None:
        """kill -9 the server; its data is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.dump.unlink(missing_ok=True)

    def __enter__(self) -> "PrivateRedis":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class PrivatePostgres:
    """A Postgres cluster of this test's own (initdb in a temporary folder, trust auth)."""

    def __init__(self, port: int) -> None:
        # Its own folder: pytest's are private to root, and Postgres runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="reglab-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.port = port
        self.data = self.root / "pgdata"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        # Postgres refuses to run as root; the tests run as root here and in CI.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    def _tool(self, name: str) -> str:
        found = shutil.which(name) or next(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), None)
        if found is None:
            raise FileNotFoundError(f"{name} not found")
        return str(found)

    def start(self) -> None:
        """initdb on first use, then start the server and wait for it."""
        if not self.data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.chown(self.root, "postgres") if os.geteuid() == 0 else None
            self._as_postgres(
                self._tool("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
            )
        self._pg_ctl("start", "-w")

    def restart(self) -> None:
        """Stop (closing every connection) and start again."""
        self._pg_ctl("restart", "-m", "fast", "-w")

    def stop(self) -> None:
        """Stop at once."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def _pg_ctl(self, action: str, *options: str) -> None:
        settings = f"-p {self.port} -h 127.0.0.1 -k {self.root}"
        log = str(self.root / "postgres.log")
        self._as_postgres(
            self._tool("pg_ctl"), "-D", str(self.data), "-l", log, "-o", settings, action, *options
        )

    def __enter__(self) -> "PrivatePostgres":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
