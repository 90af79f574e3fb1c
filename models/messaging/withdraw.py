"""Taking cancelled runs' messages back out of their queues.

Left in place, each message of a cancelled run waits its turn and is then taken and skipped
by a worker: behind the 2,000 messages of a cancelled search, a new run waited minutes.
Removal is best effort and safe against every race: a message a worker takes meanwhile is
skipped by its claim, and one published meanwhile belongs to a run that is not cancelled.
"""

import base64
import json
import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from models.messaging.queue import TRAIN_RUN_TASK


def run_id_of(payload: Any) -> int | None:
    """The run id a train-run message (kombu's JSON envelope) carries; None for others."""
    if not isinstance(payload, Mapping):
        return None
    headers = payload.get("headers") or {}
    if headers.get("task") != TRAIN_RUN_TASK:
        return None
    body = payload.get("body", "")
    if (payload.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    try:
        args = json.loads(body)[0]
        return int(args[0])
    except (ValueError, TypeError, IndexError, KeyError):
        return None  # not a message reglab wrote: leave it for its reader


def from_folder(folder: Path, run_ids: Collection[int]) -> int:
    """Delete the embedded broker's message files of `run_ids` (one file per message)."""
    removed = 0
    for entry in os.scandir(folder):
        if not entry.name.endswith(".msg"):
            continue  # staging files and control folders
        try:
            payload = json.loads(Path(entry.path).read_bytes())
            if run_id_of(payload) in run_ids:
                os.remove(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # a worker took it first
        except ValueError:
            continue  # not JSON (not ours, or half-written by a foreign writer): left alone
    return removed


def from_redis(channel: Any, queues: Iterable[str], run_ids: Collection[int]) -> int:
    """LREM the messages of `run_ids` from each queue's Redis lists (one per priority)."""
    client = channel.client
    removed = 0
    for queue in queues:
        for priority in channel.priority_steps:
            key = channel._q_for_pri(queue, priority)  # kombu's list name for the priority
            doomed = [m for m in client.lrange(key, 0, -1) if run_id_of(json.loads(m)) in run_ids]
            with client.pipeline() as pipe:
                for message in doomed:
                    pipe.lrem(key, 1, message)
                removed += sum(pipe.execute())
    return removed
