"""A studio on a temporary root, reached through FastAPI's test client (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
