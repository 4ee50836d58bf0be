"""Shared fixtures: media generated once per test session (no downloads, no real people)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from faceweave.media.synth import ClipSpec, write_pattern_clip

FPS = 25
FLASH_S = (1.2,)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """3 s of moving noise at 25 fps with a hum, and a white frame plus a beep at 1.2 s."""
    path = media_dir / "clip.mp4"
    write_pattern_clip(path, ClipSpec(seconds=3.0, fps=FPS, flash_s=FLASH_S))
    return path


@pytest.fixture(scope="session")
def vfr_clip(media_dir: Path) -> Path:
    path = media_dir / "vfr.mp4"
    write_pattern_clip(path, ClipSpec(seconds=3.0, fps=FPS, vfr=True, flash_s=FLASH_S, seed=1))
    return path


@pytest.fixture(scope="session")
def rotated_clip(media_dir: Path) -> Path:
    """Stored 320x240 with a 90-degree display rotation, as phones write portrait video."""
    path = media_dir / "rotated.mp4"
    write_pattern_clip(path, ClipSpec(seconds=1.0, fps=FPS, rotation_deg=90, seed=2))
    return path


@pytest.fixture(scope="session")
def truncated_clip(clip: Path, media_dir: Path) -> Path:
    path = media_dir / "truncated.mp4"
    data = clip.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


@pytest.fixture(scope="session")
def corrupt_clip(clip: Path, media_dir: Path) -> Path:
    """The clip with 4 kB of its picture data overwritten by garbage."""
    path = media_dir / "corrupt.mp4"
    data = bytearray(clip.read_bytes())
    start = len(data) // 3
    data[start : start + 4000] = bytes((i * 7) % 256 for i in range(4000))
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(autouse=True, scope="session")
def signing_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The per-install signing key goes to a test folder, never into the user's real config."""
    folder = tmp_path_factory.mktemp("config")
    os.environ["FACEWEAVE_CONFIG_DIR"] = str(folder)
    return folder
