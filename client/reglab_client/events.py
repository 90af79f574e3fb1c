"""Live events of a run or an experiment (Server-Sent Events), as typed objects.

A dropped connection is resumed with `Last-Event-ID`, so no event is lost or seen twice; the
iteration ends with the stream's `end` event (or a 204: the end was already received).
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx

from reglab_client.errors import DroppedError, ReglabError, UnreachableError
from reglab_client.http import Http
from reglab_client.types import RunError, RunStatus

# A stream sends a comment at least every 15 s while idle: twice that in silence is a dead one.
READ_TIMEOUT = 45.0


@dataclass(frozen=True)
class StatusEvent:
    """A run's status (or its attempt) changed; `error` says why a failed run failed."""

    id: str
    run_id: int
    status: RunStatus
    attempt: int
    epochs_done: int
    error: RunError | None


@dataclass(frozen=True)
class EpochEvent:
    """A run finished an epoch: its metrics by name (None for NaN or infinity)."""

    id: str
    run_id: int
    epoch: int
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class RunEnd:
    """The last event of a run's stream: the run has ended."""

    id: str
    run_id: int
    status: RunStatus
    epochs_done: int


@dataclass(frozen=True)
class ExperimentEnd:
    """The last event of an experiment's stream: every run has ended, no more will start."""

    id: str
    experiment_id: int
    progress: dict[RunStatus, int]


Event = StatusEvent | EpochEvent | RunEnd | ExperimentEnd


@dataclass(frozen=True)
class Message:
    """One event of the stream as sent: its name, data (text) and id."""

    event: str
    data: str
    id: str | None


def messages(lines: Iterable[str]) -> Iterator[Message]:
    """The events of a stream's lines, as EventSource reads them (comments skipped)."""
    event, data, last_id = "message", list[str](), None
    for line in lines:
        if not line:  # a blank line ends the event
            if data:
                yield Message(event, "\n".join(data), last_id)
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value


def parse(message: Message) -> Event | None:
    """The typed event of a message; None for a kind this client does not know (newer API)."""
    if message.id is None:
        return None
    fields: dict[str, Any] = json.loads(message.data)
    kind: type[Event] | None = {"status": StatusEvent, "epoch": EpochEvent}.get(message.event)
    if message.event == "end":
        kind = ExperimentEnd if "experiment_id" in fields else RunEnd
    if kind is None:
        return None
    known = set(kind.__dataclass_fields__) - {"id"}
    return kind(id=message.id, **{k: v for k, v in fields.items() if k in known})


def _connect(
    http: Http, path: str, last_event_id: str | None
) -> AbstractContextManager[httpx.Response]:
    """Open the stream right after `last_event_id` (a context manager of the response)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    timeout = httpx.Timeout(http.client.timeout.connect, read=READ_TIMEOUT)
    return http.stream(path, headers=headers, timeout=timeout)


class _Counted:
    """A response's lines, counted as they are read."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines, self.count = lines, 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            self.count += 1
            yield line


def _event_stream(response: httpx.Response, path: str) -> httpx.Response:
    """The response, if it is an event stream (a proxy's sign-in page is not)."""
    kind = response.headers.get("content-type", "")
    if not kind.startswith("text/event-stream"):
        raise ReglabError(f"{path}: the answer is not an event stream ({kind or 'no type'})")
    return response


def follow(http: Http, path: str, last_event_id: str | None = None) -> Iterator[Event]:
    """The events of the stream at `path` after `last_event_id`, to its end, across drops.

    A stream that closes or drops before its end (a restart, a proxy's cap on a stream's
    lifetime) is opened again, as EventSource does. Opens that bring not a single line, in a
    row, back off and end it with UnreachableError after the client's retries; an open that
    fails raises as any request does, after those retries.
    """
    silent = 0  # opens in a row that brought no line, not even a keep-alive
    while True:
        lines = _Counted(())
        try:
            with _connect(http, path, last_event_id) as response:
                if response.status_code == 204:  # nothing after that id: the stream had ended
                    return
                lines = _Counted(_event_stream(response, path).iter_lines())
                for message in messages(lines):
                    if (event := parse(message)) is None:
                        continue
                    last_event_id = event.id
                    yield event
                    if isinstance(event, RunEnd | ExperimentEnd):
                        return
            reason = "closed before its end"
        except DroppedError as exc:
            reason = f"dropped ({exc})"
        silent = 0 if lines.count else silent + 1
        if silent >= http.retry.attempts:
            raise UnreachableError(f"{path}: the event stream {reason}, {silent} times in a row")
        http.sleep(http.retry.wait(silent, None))
