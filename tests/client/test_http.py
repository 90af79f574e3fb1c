"""Retries (503, lost connections), the key on every request, and errors with the API's body."""

import httpx
import pytest
from reglab_client import (
    ApiError,
    AuthError,
    Client,
    NotFoundError,
    Retry,
    UnavailableError,
    UnreachableError,
    ValidationError,
)

from tests.client.mock import error_body, mocked

RUN = {"id": 7, "status": "queued"}


def test_every_request_sends_the_key_and_the_url_and_key_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGLAB_URL", "http://from-env.test/")
    monkeypatch.setenv("REGLAB_API_KEY", "rl_env_key")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=RUN)

    with Client(transport=httpx.MockTransport(handler)) as client:
        assert client.url == "http://from-env.test"
        assert client.runs.get(7) == RUN
    assert str(seen[0].url) == "http://from-env.test/runs/7"
    assert seen[0].headers["authorization"] == "Bearer rl_env_key"
    assert seen[0].headers["user-agent"].startswith("reglab-client")


def test_a_503_is_retried_until_the_store_is_back() -> None:
    answers = iter([httpx.Response(503, json={"detail": "store down"})] * 2)
    client, api = mocked(lambda r: next(answers, httpx.Response(200, json=RUN)))
    assert client.runs.get(7) == RUN
    assert len(api.requests) == 3


def test_a_503_that_lasts_raises_with_the_api_s_message() -> None:
    client, api = mocked(lambda r: httpx.Response(503, json={"detail": "the database is down"}))
    with pytest.raises(UnavailableError) as raised:
        client.runs.get(7)
    assert len(api.requests) == 3  # every attempt of NO_WAIT
    assert raised.value.status == 503
    assert [str(e) for e in raised.value.errors] == ["the database is down"]


def test_the_wait_grows_and_follows_retry_after_within_the_cap() -> None:
    retry = Retry(attempts=5, backoff=0.5, max_wait=10)
    asks = httpx.Response(503, headers={"Retry-After": "5"})
    assert [retry.wait(n, None) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert retry.wait(0, asks) == 5.0 and retry.wait(4, asks) == 8.0
    assert retry.wait(9, None) == 10


def test_a_read_is_sent_again_after_a_dropped_connection() -> None:
    failures = iter([httpx.ReadError("reset")])

    def handler(request: httpx.Request) -> httpx.Response:
        if error := next(failures, None):
            raise error
        return httpx.Response(200, json=RUN)

    client, api = mocked(handler)
    assert client.runs.get(7) == RUN and len(api.requests) == 2


def test_a_cancel_is_not_sent_again_once_it_may_have_reached_the_api() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset after the request was sent")

    client, api = mocked(handler)
    with pytest.raises(UnreachableError, match="reset after the request was sent"):
        client.runs.cancel(7)
    assert len(api.requests) == 1


def test_a_cancel_is_sent_again_when_the_connection_never_opened() -> None:
    failures = iter([httpx.ConnectError("refused")])

    def handler(request: httpx.Request) -> httpx.Response:
        if error := next(failures, None):
            raise error
        return httpx.Response(200, json=RUN)

    client, api = mocked(handler)
    assert client.runs.cancel(7) == RUN and len(api.requests) == 2


def test_a_submission_keeps_one_idempotency_key_through_its_retries() -> None:
    failures = iter([httpx.ReadTimeout("no answer"), httpx.RemoteProtocolError("dropped")])

    def handler(request: httpx.Request) -> httpx.Response:
        if error := next(failures, None):
            raise error
        return httpx.Response(202, json={"id": 3})

    client, api = mocked(handler)
    assert client.experiments.submit("x", {"dataset": {"name": "moons"}})["id"] == 3
    keys = {request.headers["idempotency-key"] for request in api.requests}
    assert len(api.requests) == 3 and len(keys) == 1
    client.experiments.submit("x", {"dataset": {"name": "moons"}})
    assert api.requests[-1].headers["idempotency-key"] not in keys  # a new call, a new key


def test_an_unreachable_api_raises_after_the_retries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client, api = mocked(handler)
    with pytest.raises(UnreachableError, match="connection refused"):
        client.runs.get(1)
    assert len(api.requests) == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (404, NotFoundError), (422, ValidationError)],
)
def test_a_refusal_raises_its_class_with_the_api_s_error_list(
    status: int, kind: type[ApiError]
) -> None:
    answer = error_body(status, ["query", "filter"], "unexpected ')' at 12", "filter_syntax")
    client, api = mocked(lambda r: answer)
    with pytest.raises(kind) as raised:
        client.runs.list(filter="status = 'x')").__iter__().__next__()
    error = raised.value
    assert (error.status, len(api.requests)) == (status, 1)  # never retried
    assert [(e.loc, e.msg, e.type) for e in error.errors] == [
        (("query", "filter"), "unexpected ')' at 12", "filter_syntax")
    ]
    assert str(error).endswith("query.filter: unexpected ')' at 12")
    assert error.url.startswith("http://api.test/runs?")


def test_a_body_that_is_not_json_is_kept_as_text() -> None:
    client, _ = mocked(lambda r: httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(ApiError) as raised:
        client.runs.get(1)
    assert raised.value.body == "Internal Server Error"
    assert str(raised.value) == "500 Internal Server Error: Internal Server Error"


def test_a_cancel_answered_503_is_not_sent_again() -> None:
    # The cancel may have committed before the broker refused: a retry would answer 409.
    client, api = mocked(lambda r: httpx.Response(503, json={"detail": "the broker is down"}))
    with pytest.raises(UnavailableError, match="the broker is down"):
        client.runs.cancel(7)
    assert len(api.requests) == 1
