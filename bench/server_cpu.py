"""CPU time a server spends on requests: its processes and its database's Postgres backends.

Wall-clock latency on a shared machine moves with whatever else runs; the CPU seconds the
server and its database spend per request do not, so the query benchmarks print both. Linux
only (/proc); stdlib and psycopg, so both the project venv and the bench-only MLflow venv can
import it. The database must be on this machine.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    # The command name, in parentheses, may hold spaces: the fields start after its ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """`root` and every live process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended while we looked
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU seconds of each of `pids` still alive."""
    seconds = {}
    for pid in pids:
        try:
            fields = _stat(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


class ServerCpu:
    """Measures the CPU a server (a process tree) and its Postgres database spend."""

    def __init__(self, root_pid: int, postgres_url: str | None, database: str = "") -> None:
        self.root_pid = root_pid
        self.postgres_url = postgres_url
        self.database = database

    def _pids(self) -> list[int]:
        if self.postgres_url is None:  # a server on another database: its processes alone
            return process_tree(self.root_pid)
        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            query = (
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            )
            backends = [row[0] for row in conn.execute(query, (self.database,))]
        return process_tree(self.root_pid) + backends

    def timed(self, call: Callable[[], object], n: int) -> tuple[list[float], float]:
        """Seconds of each of `n` calls, and the server's CPU milliseconds per call."""
        before = cpu_seconds(self._pids())
        seconds = []
        for _ in range(n):
            start = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - start)
        after = cpu_seconds(self._pids())
        spent = sum(after[pid] - before.get(pid, 0.0) for pid in after)
        return seconds, 1000 * spent / n
