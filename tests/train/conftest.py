"""A tiny workspace with two small facesets, extracted once per session from pseudo-videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faceweave.config import Config, load_config
from faceweave.workspace import Workspace
from tests.helpers import extract_two_people

TINY = {"encoder_dims": 8, "bottleneck_dims": 32, "decoder_dims": 8, "mask_dims": 4, "batch_size": 4,
        "loader_workers": 0, "precision": "fp32", "preview_every": 0, "learning_rate": 1e-3}  # fmt: skip


@pytest.fixture(scope="session")
def facesets(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return extract_two_people(tmp_path_factory.mktemp("train") / "ws")


def fresh_workspace(facesets: Workspace, target: Path) -> Workspace:
    """A copy of the facesets with an empty model folder."""
    for side in ("data_src", "data_dst"):
        shutil.copytree(facesets.root / side, target / side)
    (target / "model").mkdir()
    return Workspace(target)


def tiny_config(**train: object) -> Config:
    return load_config(overrides={"train": {**TINY, **train}})
