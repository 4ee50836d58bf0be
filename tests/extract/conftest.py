"""Pseudo-videos of bundled synthetic faces with known landmarks in every frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from faceweave.assets import load_sample_face
from faceweave.config import Config, load_config
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, TruthFrame, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace


@dataclass(frozen=True)
class Clip:
    path: Path
    truth: list[list[TruthFrame]]


@pytest.fixture(scope="session")
def puppets() -> list[FacePuppet]:
    return [FacePuppet.from_image(load_sample_face(i)) for i in (0, 1)]


@pytest.fixture(scope="session")
def face_clip(puppets: list[FacePuppet], tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """2 s, 25 fps, 480x360: one face moving, talking and blinking."""
    path = tmp_path_factory.mktemp("clips") / "face.mp4"
    truth = write_puppet_clip(path, puppets[1], ClipSpec(seconds=2.0, fps=25, width=480, height=360, seed=1))
    return Clip(path, truth)


@pytest.fixture(scope="session")
def two_face_clip(puppets: list[FacePuppet], tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """1.6 s, 640x360: two different synthetic people side by side."""
    path = tmp_path_factory.mktemp("clips") / "two.mp4"
    truth = write_puppet_clip(path, puppets, ClipSpec(seconds=1.6, fps=25, width=640, height=360, seed=2))
    return Clip(path, truth)


def extract_config(**extract: object) -> Config:
    return load_config(overrides={"extract": {"workers": 1, "size_px": 128, **extract}})


def workspace(tmp_path: Path) -> Workspace:
    return init_workspace(tmp_path / "ws").workspace
