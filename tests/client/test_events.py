"""Event streams: parsed as EventSource parses them, resumed after a drop, ended by `end`."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from reglab_client import (
    EpochEvent,
    ExperimentEnd,
    ReglabError,
    RunEnd,
    StatusEvent,
    UnavailableError,
    UnreachableError,
)
from reglab_client.events import Message, messages

from tests.client.mock import error_body, mocked

STATUS = {"run_id": 7, "status": "running", "attempt": 1, "epochs_done": 0, "error": None}


def block(event: str, data: dict[str, Any], id: str) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\nid: {id}\n\n"


def epoch(n: int) -> str:
    return block(
        "epoch", {"run_id": 7, "epoch": n, "metrics": {"val_acc": n / 10}}, f"{n}.1.running"
    )


END = block("end", {"run_id": 7, "status": "succeeded", "epochs_done": 3}, "3.1.succeeded.end")


class Dropping(httpx.SyncByteStream):
    """A response body that sends `text`, then loses its connection."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __iter__(self) -> Iterator[bytes]:
        yield self.text.encode()
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


EVENT_STREAM = {"content-type": "text/event-stream; charset=utf-8"}


def sse(text: str) -> httpx.Response:
    return httpx.Response(200, headers=EVENT_STREAM, text=text)


def dropping(text: str) -> httpx.Response:
    """An event stream that sends `text`, then loses its connection."""
    return httpx.Response(200, headers=EVENT_STREAM, stream=Dropping(text))


def test_lines_are_read_as_eventsource_reads_them() -> None:
    lines = [": keep-alive", "", "event: epoch", "data: {\"a\":", "data: 1}", "id: 5", "",
             "data: plain", "", "retry: 10", ""]  # fmt: skip
    assert list(messages(lines)) == [
        Message("epoch", '{"a":\n1}', "5"),
        Message("message", "plain", "5"),  # the last id stays until another replaces it
    ]


def test_a_run_s_events_are_typed_and_end_with_its_end() -> None:
    text = block("status", STATUS, "0.1.running") + epoch(1) + ": keep-alive\n\n" + END
    client, api = mocked(lambda r: sse(text + epoch(9)))  # nothing after the end is read
    events = list(client.runs.events(7))
    assert events == [
        StatusEvent("0.1.running", 7, "running", 1, 0, None),
        EpochEvent("1.1.running", 7, 1, {"val_acc": 0.1}),
        RunEnd("3.1.succeeded.end", 7, "succeeded", 3),
    ]
    assert str(api.requests[0].url) == "http://api.test/runs/7/events"
    assert "last-event-id" not in api.requests[0].headers


def test_a_dropped_stream_resumes_after_the_last_event_received() -> None:
    bodies = iter([dropping(epoch(1) + epoch(2) + "event: epoch\ndata: {"), dropping(epoch(3))])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(bodies, None) or sse(END)

    client, api = mocked(handler)
    events = list(client.runs.events(7))
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [1, 2, 3]
    assert isinstance(events[-1], RunEnd)
    sent = [request.headers.get("last-event-id") for request in api.requests]
    assert sent == [None, "2.1.running", "3.1.running"]


def test_a_204_on_reconnecting_means_the_stream_had_ended() -> None:
    answers = iter([dropping(epoch(3)), httpx.Response(204)])
    client, api = mocked(lambda r: next(answers))
    assert [e.id for e in client.runs.events(7)] == ["3.1.running"]
    assert api.requests[-1].headers["last-event-id"] == "3.1.running"


def test_following_from_an_id_sends_it_and_an_experiment_ends_with_its_progress() -> None:
    progress = {"queued": 0, "running": 0, "succeeded": 2, "failed": 0}
    text = block("end", {"experiment_id": 3, "progress": progress}, "eAE.end")
    client, api = mocked(lambda r: sse(text))
    assert list(client.experiments.events(3, last_event_id="eAE")) == [
        ExperimentEnd("eAE.end", 3, progress)  # type: ignore[arg-type]
    ]
    assert api.requests[0].headers["last-event-id"] == "eAE"


def test_a_stream_closed_before_its_end_is_reopened_for_as_long_as_it_opens() -> None:
    # A proxy that caps a stream's lifetime: more closes than the client's retries, then the end.
    answers = iter([sse(": keep-alive\n\n")] * 4 + [dropping("")])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or sse(END)

    client, api = mocked(handler)
    assert [type(e) for e in client.runs.events(7)] == [RunEnd]
    assert len(api.requests) == 6


def test_a_429_on_reconnecting_is_retried_like_a_503() -> None:
    # The server has not yet noticed the dropped stream and still counts its slot.
    answers = iter([dropping(epoch(1)), error_body(429, [], "", "")])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or sse(END)

    client, api = mocked(handler)
    assert [type(e) for e in client.runs.events(7)] == [EpochEvent, RunEnd]
    sent = [request.headers.get("last-event-id") for request in api.requests]
    assert sent == [None, "1.1.running", "1.1.running"]


def test_opens_that_bring_nothing_back_off_then_raise() -> None:
    client, api = mocked(lambda r: sse(""))
    with pytest.raises(UnreachableError, match="closed before its end, 3 times in a row"):
        list(client.runs.events(7))
    assert len(api.requests) == 3


def test_an_answer_that_is_not_an_event_stream_is_an_error_at_once() -> None:
    page = httpx.Response(200, headers={"content-type": "text/html"}, text="<form>sign in</form>")
    client, api = mocked(lambda r: page)
    with pytest.raises(ReglabError, match="not an event stream"):
        list(client.runs.events(7))
    assert len(api.requests) == 1


def test_an_open_that_keeps_failing_raises_after_the_retries() -> None:
    client, api = mocked(lambda r: error_body(503, [], "the store is unavailable", "outage"))
    with pytest.raises(UnavailableError, match="the store is unavailable"):
        list(client.runs.events(7))
    assert len(api.requests) == 3


def test_an_event_kind_this_client_does_not_know_is_skipped() -> None:
    client, _ = mocked(lambda r: sse(block("hint", {"x": 1}, "h") + END))
    assert [type(e) for e in client.runs.events(7)] == [RunEnd]
