"""GET /runs/{id}/events and GET /experiments/{id}/events: replay and resume, refusals before
the stream starts, streams per key, and live events with keep-alives over real HTTP."""

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.auth import secret_key
from api.main import app
from api.settings import Settings, get_settings
from models import store
from models.services.events import RunFollower
from models.services.keys import create_key
from models.store import RunError
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus
from tests.api.served import on_store, served
from tests.factories import create_run, spec_dict
from tests.integration.stack import poll
from tests.sse import Message, events, messages


def read(client: TestClient, path: str, **headers: str) -> tuple[httpx.Response, list[Message]]:
    """A stream read to its end: the response and its events."""
    with client.stream("GET", path, headers=headers) as response:
        return response, events(response.iter_lines())


def failed_run(client: TestClient, sessions: sessionmaker[Any]) -> tuple[int, int]:
    """An experiment whose run failed in epoch 2 (a NaN val_acc): (experiment id, run id)."""
    experiment = client.post("/experiments", json={"name": "x", "spec": spec_dict()}).json()
    run_id = experiment["runs"][0]["id"]
    with sessions.begin() as session:
        store.claim_run(session=session, run_id=run_id, worker="w", lease_seconds=60)
        values = {1: {"train_loss": 0.7, "val_acc": 0.6}, 2: {"train_loss": 9.0, "val_acc": 1e999}}
        store.record_epochs(session=session, run_id=run_id, epochs=values)
        error = RunError("diverged", "train_loss is inf", 2)
        store.finish_run(
            session=session, run_id=run_id, worker="w", status=RunStatus.FAILED, error=error
        )
    return experiment["id"], run_id


@pytest.fixture
def settings() -> Iterator[Settings]:
    """The API's settings for the test, as the event routes read them."""
    chosen = get_settings().model_copy()
    app.dependency_overrides[get_settings] = lambda: chosen
    yield chosen
    app.dependency_overrides.pop(get_settings, None)


def test_a_runs_stream_replays_it_then_closes(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    _, run_id = failed_run(client, sessions)
    response, sent = read(client, f"/runs/{run_id}/events")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert [(m.event, m.id) for m in sent] == [
        ("epoch", "1.0.-"),
        ("epoch", "2.0.-"),
        ("status", "2.1.failed"),
        ("end", "2.1.failed.end"),
    ]
    assert sent[1].data == {
        "run_id": run_id,
        "epoch": 2,
        "metrics": {"train_loss": 9.0, "val_acc": None},
    }
    error = {"type": "diverged", "message": "train_loss is inf", "epoch": 2}
    assert sent[2].data == {
        "run_id": run_id, "status": "failed", "attempt": 1, "epochs_done": 2, "error": error,
    }  # fmt: skip
    assert sent[3].data == {"run_id": run_id, "status": "failed", "epochs_done": 2}


def test_last_event_id_resumes_after_it_and_after_the_end_there_is_nothing(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    experiment_id, run_id = failed_run(client, sessions)
    for path in (f"/runs/{run_id}/events", f"/experiments/{experiment_id}/events"):
        _, sent = read(client, path)
        _, rest = read(client, path, **{"Last-Event-ID": sent[0].id or ""})
        # (an experiment's ids hold the marks as each poll began: the same events, other ids)
        assert [(m.event, m.data) for m in rest] == [(m.event, m.data) for m in sent[1:]], path
        ended = client.get(path, headers={"Last-Event-ID": sent[-1].id or ""})
        assert (ended.status_code, ended.content) == (204, b""), path


def test_after_resumes_like_last_event_id_for_a_browser_which_cannot_send_it(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    experiment_id, run_id = failed_run(client, sessions)
    for path in (f"/runs/{run_id}/events", f"/experiments/{experiment_id}/events"):
        _, sent = read(client, path)
        _, rest = read(client, f"{path}?after={quote(sent[0].id or '')}")
        assert [(m.event, m.data) for m in rest] == [(m.event, m.data) for m in sent[1:]], path
        # The header wins when both are sent (EventSource reconnecting on such a page).
        both = f"{path}?after={quote(sent[0].id or '')}"
        ended = client.get(both, headers={"Last-Event-ID": sent[-1].id or ""})
        assert ended.status_code == 204, path
        bad = client.get(f"{path}?after=1.1.walking")
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "after"]


def test_an_experiments_stream_names_each_run_and_ends_with_the_tally(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    experiment_id, run_id = failed_run(client, sessions)
    _, sent = read(client, f"/experiments/{experiment_id}/events")
    assert [m.event for m in sent] == ["epoch", "epoch", "status", "end"]
    assert {m.data["run_id"] for m in sent[:-1]} == {run_id}
    tally = {"queued": 0, "running": 0, "succeeded": 0, "failed": 1, "cancelled": 0, "pruned": 0}
    assert sent[-1].data == {"experiment_id": experiment_id, "progress": tally}


@pytest.mark.parametrize("kind", ["runs", "experiments"])
def test_refusals_come_before_the_stream(client: TestClient, kind: str) -> None:
    missing = client.get(f"/{kind}/12345/events")
    assert missing.status_code == 404, missing.text
    assert missing.json()["detail"][0]["type"] == "not_found"
    experiment = client.post("/experiments", json={"name": "x", "spec": spec_dict()}).json()
    ids = {"runs": experiment["runs"][0]["id"], "experiments": experiment["id"]}
    for bad in ("12", "1.1.walking", "AAAA.AAAA", "x" * 20_000):
        response = client.get(f"/{kind}/{ids[kind]}/events", headers={"Last-Event-ID": bad})
        assert response.status_code == 422, (bad[:30], response.text)
        assert response.json()["detail"][0]["loc"] == ["header", "last-event-id"]


def counted(method: Callable[..., Any], calls: list[None]) -> Callable[..., Any]:
    """`method`, appending to `calls` each time it is called."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return method(*args, **kwargs)

    return wrapper


def test_streams_per_key_are_bounded_and_freed_on_disconnect(
    client: TestClient,
    sessions: sessionmaker[Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.sse_max_streams_per_key = 1
    settings.sse_poll_seconds = 60  # the open stream sleeps: nothing else uses the connection
    with sessions.begin() as session:
        run_id = create_run(session).id
    path = f"/runs/{run_id}/events"
    polls = []
    monkeypatch.setattr(RunFollower, "poll", counted(RunFollower.poll, polls))
    with client.stream("GET", path) as first:
        assert next(messages(first.iter_lines())).data["status"] == "queued"
        refused = client.get(path)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "15"  # the next keep-alive frees a dropped one
        assert len(polls) == 1  # the refused one read nothing of the store
        [detail] = refused.json()["detail"]
        assert detail["type"] == "too_many_streams"
        assert "REGLAB_SSE_MAX_STREAMS_PER_KEY" in detail["msg"]
    with client.stream("GET", path) as again:  # the first one's slot was given back
        assert again.status_code == 200


def test_a_stream_closes_after_its_lifetime_and_resumes_where_it_stopped(
    client: TestClient, sessions: sessionmaker[Any], settings: Settings
) -> None:
    # A key revoked while a stream is open is cut off when the client reconnects.
    settings.sse_poll_seconds, settings.sse_max_stream_seconds = 0.05, 0.3
    with sessions.begin() as session:
        run_id = create_run(session).id
    response, first = read(client, f"/runs/{run_id}/events")
    assert response.status_code == 200
    assert [(m.event, m.id) for m in first] == [("status", "0.0.queued")]  # no end: cut short
    with sessions.begin() as session:
        store.claim_run(session=session, run_id=run_id, worker="w", lease_seconds=60)
    _, resumed = read(client, f"/runs/{run_id}/events", **{"Last-Event-ID": first[-1].id})
    assert [(m.event, m.data["status"]) for m in resumed] == [("status", "running")]


def test_the_openapi_documents_each_event_type(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    ends = {
        "/runs/{run_id}/events": "RunEndEventRead",
        "/experiments/{experiment_id}/events": "ExperimentEndEventRead",
    }
    for path, end in ends.items():
        stream = document["paths"][path]["get"]["responses"]["200"]["content"]["text/event-stream"]
        data = stream["itemSchema"]["properties"]["data"]["contentSchema"]["anyOf"]
        names = {"StatusEventRead", "EpochEventRead", end}
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in data} == names
        assert names <= set(document["components"]["schemas"])
        assert "event: epoch" in stream["example"]
        assert stream["itemSchema"]["properties"]["event"]["enum"] == ["status", "epoch", "end"]
        assert {"204", "404", "422", "429"} <= set(document["paths"][path]["get"]["responses"])


def opened(http: httpx.Client, path: str) -> httpx.Response | None:
    """A stream's response, open; None (closed) if it was refused with a 429."""
    response = http.send(http.build_request("GET", path), stream=True)
    if response.status_code == 429:
        response.close()
        return None
    return response


def test_events_arrive_live_with_keep_alives_between(
    fresh_sessions: sessionmaker[Any], settings: Settings
) -> None:
    """Over real HTTP, on a store written by another connection while the stream is open; a
    client that drops its stream gets its slot back."""
    settings.sse_poll_seconds, settings.sse_keepalive_seconds = 0.05, 0.3
    settings.sse_max_streams_per_key = 1
    _, key = create_key(
        fresh_sessions, project_id=DEFAULT_PROJECT_ID, name="t", scopes=["read"],
        expires_at=None, secret_key=secret_key(), created_by=None,
    )  # fmt: skip
    with fresh_sessions.begin() as session:
        run_id = create_run(session).id
    auth = {"Authorization": f"Bearer {key}"}
    path = f"/runs/{run_id}/events"
    with (
        on_store(app, fresh_sessions),
        served(app) as base,
        httpx.Client(base_url=base, headers=auth, timeout=10) as http,
    ):
        with http.stream("GET", path) as dropped:
            assert next(messages(dropped.iter_lines())).data["status"] == "queued"
        response = poll(lambda: opened(http, path), timeout=10, interval=0.05)
        try:
            rest = follow_live(fresh_sessions, run_id, messages(response.iter_lines()))
        finally:
            response.close()
    assert [(m.event, m.id) for m in rest] == [
        ("status", "1.1.succeeded"),
        ("end", "1.1.succeeded.end"),
    ]


def follow_live(
    sessions: sessionmaker[Any], run_id: int, stream: Iterator[Message]
) -> list[Message]:
    """Train the run step by step, each step once the stream has shown the last; its events
    after the epoch."""
    assert next(stream).data["status"] == "queued"
    with sessions.begin() as session:
        store.claim_run(session=session, run_id=run_id, worker="w", lease_seconds=60)
    assert next(m for m in stream if m.event).data["status"] == "running"
    assert next(stream).comment == "keep-alive"  # nothing happens until it came
    with sessions.begin() as session:
        store.record_epochs(session=session, run_id=run_id, epochs={1: {"val_acc": 0.5}})
    assert next(m for m in stream if m.event).data["metrics"] == {"val_acc": 0.5}
    with sessions.begin() as session:
        store.finish_run(session=session, run_id=run_id, worker="w", status=RunStatus.SUCCEEDED)
    return [m for m in stream if m.event]
