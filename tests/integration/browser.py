"""A real headless Chromium on a real stack, for the browser view's tests.

`browser_stack` starts the API (and, when asked, a Celery worker) on an embedded store and
broker; `chromium` launches Debian's chromium through Playwright (never a downloaded browser);
`signed_in_page` signs in through the form and, when the block ends, fails the test if the
page logged a console error, threw, or asked anything of another origin. `screenshot` keeps
what the page showed under .reglab/screenshots/ (git-ignored) for a person to look at.
"""

import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from tests.conftest import IN_CI, ROOT, migrate
from tests.integration.stack import (
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    running,
    wait_healthy,
)

SCREENSHOTS = ROOT / ".reglab" / "screenshots"
WORKER = ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO"]
# Schemes that never leave the page (plotly draws with blob: and data: URLs).
LOCAL_SCHEMES = ("data:", "blob:", "about:")


@dataclass
class Stack:
    """A running API: where it answers, its admin key, and a client that sends the key."""

    base_url: str
    key: str
    api: httpx.Client
    env: dict[str, str]


@contextmanager
def browser_stack(folder: Path, *, worker: bool = False) -> Iterator[Stack]:
    """The API on an embedded store and broker under `folder`, with a torch worker if asked."""
    home = folder / "home"
    home.mkdir(mode=0o700, parents=True)
    database_url = f"sqlite:///{home / 'reglab.sqlite'}"
    migrate(database_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = process_env(
        {
            "REGLAB_HOME": str(home),
            "REGLAB_DATABASE_URL": database_url,
            "REGLAB_PORT": str(port),
            "REGLAB_BACKENDS": "torch",
        }
    )
    key = bootstrap_key(env)
    with (
        running([sys.executable, "-m", "api"], env, folder / "api.log"),
        api_client(base_url, key) as api,
        ExitStack() as services,
    ):
        wait_healthy(base_url)
        if worker:
            services.enter_context(running(WORKER, env, folder / "worker.log"))
        yield Stack(base_url, key, api, env)


def chromium_path() -> str:
    """Debian's chromium; skips the test where it is missing, fails under CI=true."""
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (`make test` installs Debian's package)"
        if IN_CI:
            pytest.fail(f"{message}; it is required under CI=true")
        pytest.skip(message)
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium driven by Playwright (root needs --no-sandbox)."""
    path = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageWatch:
    """What a page did that a clean page does not: console errors, exceptions, and requests
    to any origin other than reglab's."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        """Keep a console message of type error."""
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    def on_page_error(self, error: Exception) -> None:
        """Keep an uncaught exception."""
        self.errors.append(f"pageerror: {error}")

    def on_request(self, request: Request) -> None:
        """Keep a request that leaves reglab's origin."""
        url = request.url
        if not url.startswith(LOCAL_SCHEMES) and not url.startswith(f"{self.origin}/"):
            self.foreign.append(url)

    def assert_clean(self) -> None:
        """Fail if the page logged an error, threw, or asked another origin for anything."""
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign


def watch(page: Page, origin: str) -> PageWatch:
    """Start recording what `page` does against a clean page's rules."""
    seen = PageWatch(origin)
    page.on("console", seen.on_console)
    page.on("pageerror", seen.on_page_error)
    page.on("request", seen.on_request)
    return seen


def sign_in(page: Page, key: str) -> None:
    """Sign in through the form, as a person would, and land on the experiments page."""
    page.goto("/ui/login")
    page.fill("input[name=key]", key)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/ui/experiments")


@contextmanager
def signed_in_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A page of a fresh browser context, signed in to `stack`; the test fails if, by the
    end of the block, it logged a console error, threw, or requested another origin."""
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen = watch(page, stack.base_url)
    try:
        sign_in(page, stack.key)
        yield page
    except Exception as exc:
        # What the page showed and logged when the test failed, beside the failure itself.
        exc.add_note(f"screenshot: {screenshot(page, 'last_failure')}")
        exc.add_note(f"page errors: {seen.errors}, foreign requests: {seen.foreign}")
        raise
    else:
        seen.assert_clean()
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as .reglab/screenshots/<name>.png (to look at) and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
