"""End-to-end harness: the real `mitrain serve` in a subprocess, driven by Playwright
through Debian's Chromium (headless). Skips with a clear reason without Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mitrain.db import get_db
from mitrain.models import User, UserRole

from ..conftest import build_app
from ..factories import make_team, make_user

CHROMIUM = os.environ.get("MITRAIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    instance: Path
    users: dict[UserRole, User]
    log: Path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package "
                    f"(`.ci/run` does) to run the browser tests")
    base = tmp_path_factory.mktemp("e2e")
    app = build_app(base, WTF_CSRF_ENABLED=True)
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        team = make_team(db, "E2E Team")
        users = {role: make_user(db, role, team=team, name=f"E2E {role.value.capitalize()}")
                 for role in UserRole}
        users[UserRole.TRAINER].trained_teams = [team]
        db.commit()
    get_db(app).engine.dispose()
    port = _free_port()
    env = {**os.environ, "MITRAIN_INSTANCE_PATH": app.instance_path,
           "MITRAIN_MODEL_DIR": app.config["MODEL_DIR"], "MITRAIN_JOB_LEASE_SECONDS": "120"}
    mitrain = shutil.which("mitrain", path=str(Path(sys.executable).parent)) or "mitrain"
    log = base / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([mitrain, "serve", "--port", str(port), "--workers", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        yield LiveServer(f"http://127.0.0.1:{port}", Path(app.instance_path), users, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser(live_server: LiveServer):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@contextmanager
def fake_microphone(browser, wav: Path):  # type: ignore[no-untyped-def]
    """A second Chromium whose microphone plays ``wav`` once (16-bit PCM WAV), from
    the session's Playwright instance; yields a page with microphone permission."""
    args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                            f"--use-file-for-fake-audio-capture={wav}%noloop"]
    mic_browser = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        yield mic_browser.new_context(permissions=["microphone"]).new_page()
    finally:
        mic_browser.close()


def record_for(page, seconds: int) -> None:  # type: ignore[no-untyped-def]
    """Press the recorder's Start and wait until its clock shows ``seconds``."""
    page.click("#rec-start")
    for _ in range(seconds * 2 + 40):  # CSP forbids eval, so poll rather than wait_for_function
        minutes, secs = page.inner_text("#rec-time").split(":")
        if int(minutes) * 60 + int(secs) >= seconds:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the recorder never reached {seconds} s")


def sign_in(page, server: LiveServer, role: UserRole) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the real form."""
    user = server.users[role]
    page.goto(server.url + "/auth/login")
    page.fill("#email", user.email)
    page.fill("#password", "correct horse battery staple")
    page.click("input[type=submit]")
    page.wait_for_url(server.url + "/")


def screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot (kept in the test's tmp_path) and check it is a real image."""
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
