"""Server-Sent Events of runs and experiments: open a stream, relay its polls, bound the streams.

Opening a stream reads its first events before the response starts: another project's run
or experiment is a 404 and a malformed Last-Event-ID a 422 as on any route, and a client
that already has the final event gets a 204, which tells EventSource to stop reconnecting.
That first poll runs in the threadpool like any route's dependency; every later one runs in
a thread of a small pool of its own (open streams never hold the threads the other routes run
in), and the stream sleeps between polls holding no session.
"""

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, HTTPException, Query, status
from fastapi.sse import ServerSentEvent
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from api.deps import ExperimentId, KeyDep, ProjectDep, RunId, SessionmakerDep
from api.errors import error_item, error_list_response, not_found_response, unprocessable
from api.schemas.events import (
    EpochEventRead,
    ExperimentEndEventRead,
    RunEndEventRead,
    StatusEventRead,
)
from api.settings import Settings, get_settings
from models.services.event_ids import EventIdError
from models.services.events import (
    Batch,
    EpochEvent,
    ExperimentEnd,
    ExperimentFollower,
    Follower,
    RunEnd,
    RunFollower,
    Sent,
    StatusEvent,
)
from models.store.db import is_outage

log = logging.getLogger(__name__)
POLLS = anyio.CapacityLimiter(4)
KEEPALIVE = "keep-alive"
MESSAGES: dict[type, tuple[str, type[BaseModel]]] = {
    EpochEvent: ("epoch", EpochEventRead),
    StatusEvent: ("status", StatusEventRead),
    RunEnd: ("end", RunEndEventRead),
    ExperimentEnd: ("end", ExperimentEndEventRead),
}
SettingsDep = Annotated[Settings, Depends(get_settings)]
LastEventId = Annotated[
    str | None,
    Header(
        max_length=16_384,
        description="The `id` of the last event received: the stream resumes right after it "
        "(EventSource sends it when it reconnects). Omitted: from the beginning.",
        examples=["3.1.running"],
    ),
]
# Four times shorter than the header: a URL is refused by the server's parser past 64 KiB
# (tests/api/test_request_target.py), and a character may take 12 bytes percent-encoded. Only
# an experiment with thousands of runs in flight has longer ids; its clients send the header.
MAX_AFTER_LENGTH = 4096
After = Annotated[
    str | None,
    Query(
        max_length=MAX_AFTER_LENGTH,
        description="Start right after this event `id`, as `Last-Event-ID` does (which wins "
        "when both are sent): for a browser's EventSource, which cannot send that header on "
        "its first connection, on a page that already shows the events up to it. At most "
        f"{MAX_AFTER_LENGTH} characters: a longer id (an experiment with thousands of runs in "
        "flight) goes in `Last-Event-ID`.",
        examples=["3.1.running"],
    ),
]


@dataclass(frozen=True)
class Opened:
    """A stream whose first poll is done."""

    follower: Follower
    first: Batch


class StreamSlots:
    """How many streams each API key holds open in this process."""

    def __init__(self) -> None:
        self._open: Counter[int] = Counter()
        self._lock = threading.Lock()

    def take(self, key: int, limit: int) -> bool:
        """One more stream for `key`, unless it holds `limit` already."""
        with self._lock:
            if self._open[key] >= limit:
                return False
            self._open[key] += 1
            return True

    def give_back(self, key: int) -> None:
        """A stream of `key` closed."""
        with self._lock:
            self._open[key] -= 1
            if not self._open[key]:
                del self._open[key]


SLOTS = StreamSlots()


async def hold_slot(key: KeyDep, settings: SettingsDep) -> AsyncIterator[None]:
    """A stream slot of the caller's key while the response lasts; 429 if it has none left."""
    limit = settings.sse_max_streams_per_key
    if not SLOTS.take(key.id, limit):
        message = (
            f"this API key holds {limit} event streams open already "
            "(REGLAB_SSE_MAX_STREAMS_PER_KEY): close one, or follow a whole experiment in one"
        )
        item = error_item(("header", "Authorization"), message, "too_many_streams")
        # A dropped stream's slot comes back once a write to it fails: by the next keep-alive.
        wait = {"Retry-After": str(math.ceil(settings.sse_keepalive_seconds))}
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, [item], headers=wait)
    try:
        yield
    finally:  # plain code: it runs on a disconnect's cancellation too
        SLOTS.give_back(key.id)


StreamSlot = Annotated[None, Depends(hold_slot)]


@dataclass(frozen=True)
class StreamStart:
    """Where a stream starts: after this event id (None: from the beginning), and the
    parameter it came in, which a 422 names."""

    after: str | None
    loc: tuple[str, str]


def stream_start(last_event_id: LastEventId = None, after: After = None) -> StreamStart:
    """Last-Event-ID, or else `after`."""
    if last_event_id:
        return StreamStart(last_event_id, ("header", "last-event-id"))
    return StreamStart(after, ("query", "after"))


StartDep = Annotated[StreamStart, Depends(stream_start)]


def _open(start: StreamStart, make: Callable[..., Follower]) -> Opened:
    try:
        follower = make(last_event_id=start.after)
    except EventIdError as exc:
        raise unprocessable(start.loc, str(exc), "event_id") from None
    first = follower.poll()
    if first.ended and not first.sent:
        raise HTTPException(status.HTTP_204_NO_CONTENT)
    return Opened(follower, first)


def open_run_stream(
    run_id: RunId, sessions: SessionmakerDep, project_id: ProjectDep, start: StartDep
) -> Opened:
    """The run's stream from where it starts, its first events read."""
    return _open(start, partial(RunFollower, sessions, project_id=project_id, run_id=run_id))


def open_experiment_stream(
    experiment_id: ExperimentId, sessions: SessionmakerDep, project_id: ProjectDep, start: StartDep
) -> Opened:
    """The experiment's stream from where it starts, its first events read."""
    follower = partial(
        ExperimentFollower, sessions, project_id=project_id, experiment_id=experiment_id
    )
    return _open(start, follower)


def _message(sent: Sent) -> ServerSentEvent:
    name, model = MESSAGES[type(sent.event)]
    data = model.model_validate(sent.event, from_attributes=True)
    return ServerSentEvent(event=name, data=data, id=sent.id)


async def _poll(follower: Follower) -> Batch:
    """The next poll; nothing while the store is away (the stream outlives a restart)."""
    try:
        return await anyio.to_thread.run_sync(follower.poll, limiter=POLLS)
    except OperationalError as exc:
        if not is_outage(exc):
            raise
        log.warning("event stream: the store is unavailable (%s); polling on", exc.orig)
        return Batch([])


async def relay(stream: Opened, settings: Settings) -> AsyncIterator[Any]:
    """The stream's events as polls find them, keep-alives while idle, until its end or
    REGLAB_SSE_MAX_STREAM_SECONDS (the client resumes, its key checked again).

    The items are ServerSentEvents, typed Any so that a route can declare the type of their
    data for the OpenAPI (FastAPI does not validate ServerSentEvent items against it).
    """
    batch, quiet_since = stream.first, time.monotonic()
    closes_at = quiet_since + settings.sse_max_stream_seconds
    while True:
        for sent in batch.sent:
            yield _message(sent)
            quiet_since = time.monotonic()
        if batch.ended or time.monotonic() >= closes_at:
            return
        if not batch.more:
            await anyio.sleep(settings.sse_poll_seconds)
            if time.monotonic() - quiet_since >= settings.sse_keepalive_seconds:
                yield ServerSentEvent(comment=KEEPALIVE)
                quiet_since = time.monotonic()
        batch = await _poll(stream.follower)


def stream_responses(what: str, example: str) -> dict[int | str, dict[str, Any]]:
    """The documented answers of a stream route, with an example of the stream itself."""
    item = {
        "properties": {
            "event": {"enum": ["status", "epoch", "end"]},
            "id": {"description": "Send it back as `Last-Event-ID` to resume after it."},
        }
    }
    return {
        200: {
            "description": "The stream, until the `end` event; a comment line "
            f"(`: {KEEPALIVE}`) while nothing happens.",
            "content": {"text/event-stream": {"itemSchema": item, "example": example}},
        },
        204: {"description": "Last-Event-ID was the final event's and nothing came since."},
        **not_found_response(what),
        422: error_list_response("Last-Event-ID was not handed out by this stream."),
        429: error_list_response(
            "The key holds `REGLAB_SSE_MAX_STREAMS_PER_KEY` streams open already."
        ),
    }
