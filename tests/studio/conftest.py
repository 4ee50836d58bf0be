"""A studio on a temporary root, reached through FastAPI's test client (no network)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from faceweave.studio.app import Studio, create_app
from faceweave.studio.security import LOOPBACK

TOKEN = "test-token-0123456789"


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    root = tmp_path / "root"
    root.mkdir()
    return Studio(root, TOKEN, LOOPBACK, max_upload_mb=8)


@pytest.fixture
def client(studio: Studio) -> Iterator[TestClient]:
    with TestClient(create_app(studio), base_url="http://127.0.0.1:8484") as test_client:
        test_client.headers["x-faceweave-token"] = TOKEN
        yield test_client


ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "studio"


@contextmanager
def serve_studio(studio: Studio) -> Iterator[str]:
    """`studio` served by a real uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(studio), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        studio.runner.stop_all()
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium_page(chromium: str | None) -> Iterator[Any]:
    """A page of Debian's Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    assert chromium, "FACEWEAVE_REQUIRE_BROWSER=1 but Chromium is not installed"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 1600})
        yield context.new_page()
        browser.close()
