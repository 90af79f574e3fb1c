"""The browser view's sign-in: the key goes into an HttpOnly, SameSite=Strict cookie, cookie
writes need the page's CSRF token, and the view's own files are served without a key."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from api.main import app
from tests.api.conftest import client_on, key_with
from tests.factories import spec_dict


@pytest.fixture
def browser(sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """A client that sends no Authorization header, only what a browser would."""
    with client_on(sessions) as client:
        del client.headers["Authorization"]
        client.follow_redirects = False
        yield client


def sign_in(browser: TestClient, raw_key: str, next_page: str = "/ui/runs") -> Any:
    return browser.post("/ui/login", data={"key": raw_key, "next": next_page})


def test_the_form_is_public_and_a_good_key_sets_a_strict_http_only_cookie(
    browser: TestClient, sessions: sessionmaker[Any]
) -> None:
    form = browser.get("/ui/login")
    assert form.status_code == 200 and 'name="key"' in form.text
    raw_key = key_with(sessions, ["read", "write"])
    response = sign_in(browser, raw_key, "/ui/runs?filter=x")
    assert response.status_code == 303 and response.headers["location"] == "/ui/runs?filter=x"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={raw_key};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert browser.get("/experiments").status_code == 200  # reads with the cookie


def test_a_bad_key_or_a_foreign_page_gets_the_form_again(
    browser: TestClient, sessions: sessionmaker[Any]
) -> None:
    refused = sign_in(browser, "rl_0123456789ab_" + "A" * 43)
    assert refused.status_code == 401 and "unknown, expired or revoked" in refused.text
    assert "set-cookie" not in refused.headers
    raw_key = key_with(sessions, ["read"])
    foreign = browser.post(
        "/ui/login", data={"key": raw_key}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    assert browser.get("/experiments").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/ui/x", "//evil.example/ui/", "/docs"])
def test_sign_in_never_redirects_off_the_view(
    browser: TestClient, sessions: sessionmaker[Any], target: str
) -> None:
    response = sign_in(browser, key_with(sessions, ["read"]), target)
    assert response.headers["location"] == "/ui/experiments"


def test_cookie_writes_need_the_pages_csrf_token(
    browser: TestClient, sessions: sessionmaker[Any]
) -> None:
    raw_key = key_with(sessions, ["read", "write"])
    sign_in(browser, raw_key)
    created = browser.post(
        "/experiments",
        json={"name": "x", "spec": spec_dict()},
        headers={CSRF_HEADER: csrf_token(raw_key)},
    )
    assert created.status_code == 202, created.text
    run_id = created.json()["runs"][0]["id"]
    for sent in ({}, {CSRF_HEADER: "0" * 64}, {CSRF_HEADER: csrf_token(raw_key + "x")}):
        response = browser.post(f"/runs/{run_id}/cancel", headers=sent)
        assert response.status_code == 403, sent
        assert response.json()["detail"][0]["loc"] == ["header", CSRF_HEADER]
    assert browser.get(f"/runs/{run_id}").json()["status"] == "queued"
    cancelled = browser.post(f"/runs/{run_id}/cancel", headers={CSRF_HEADER: csrf_token(raw_key)})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_signing_out_clears_the_cookie(browser: TestClient, sessions: sessionmaker[Any]) -> None:
    sign_in(browser, key_with(sessions, ["read"]))
    response = browser.post("/ui/logout")
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert f'{SESSION_COOKIE}="";' in response.headers["set-cookie"]
    assert browser.get("/experiments").status_code == 401


def test_another_site_cannot_sign_a_browser_out(
    browser: TestClient, sessions: sessionmaker[Any]
) -> None:
    sign_in(browser, key_with(sessions, ["read"]))
    response = browser.post("/ui/logout", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert browser.get("/experiments").status_code == 200


def test_under_a_root_path_every_link_and_redirect_keeps_the_prefix(
    sessions: sessionmaker[Any],
) -> None:
    # Behind a proxy at /reglab (uvicorn --root-path /reglab).
    with client_on(sessions), TestClient(app, root_path="/reglab") as proxied:
        proxied.follow_redirects = False
        asked = proxied.get("/reglab/ui/runs", params={"filter": "id > 1"})
        assert asked.status_code == 303
        # `next` holds the URL asked for, itself percent-encoded as a query value.
        expected = "/reglab/ui/login?next=/reglab/ui/runs%3Ffilter%3Did%2B%253E%2B1"
        assert asked.headers["location"] == expected
        signed = proxied.post(
            "/reglab/ui/login",
            data={"key": key_with(sessions, ["read"]), "next": "/reglab/ui/runs"},
        )
        assert signed.headers["location"] == "/reglab/ui/runs"
        page = proxied.get("/reglab/ui/runs").text
    assert 'href="/reglab/ui/experiments"' in page and 'src="/reglab/ui/static/' in page
    assert 'data-root="/reglab"' in page
    assert not re.search(r'(href|src|action|data-url)="/(?!reglab/)', page)


def test_the_views_scripts_and_styles_need_no_key(browser: TestClient) -> None:
    plotly = browser.get("/ui/static/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert browser.get("/ui/static/ui.css").status_code == 200
    assert browser.get("/ui/static/../../api/auth.py").status_code == 404
