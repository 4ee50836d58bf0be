"""A tiny workspace with two small facesets, extracted once per session from pseudo-videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faceweave.assets import load_sample_face
from faceweave.config import Config, load_config
from faceweave.extract.run import run_extract
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace

TINY = {"encoder_dims": 8, "bottleneck_dims": 32, "decoder_dims": 8, "mask_dims": 4, "batch_size": 4,
        "loader_workers": 0, "precision": "fp32", "preview_every": 0, "learning_rate": 1e-3}  # fmt: skip


@pytest.fixture(scope="session")
def facesets(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = init_workspace(tmp_path_factory.mktemp("train") / "ws").workspace
    extract = load_config(overrides={"extract": {"workers": 1, "size_px": 96}})
    for side, face in (("src", 0), ("dst", 1)):
        clip = ws.root / f"{side}.mp4"
        spec = ClipSpec(seconds=0.8, fps=25, width=320, height=240, seed=face, audio=False)
        write_puppet_clip(clip, FacePuppet.from_image(load_sample_face(face)), spec, face)
        run_extract(extract, ws, side, source=clip)
    return ws


def fresh_workspace(facesets: Workspace, target: Path) -> Workspace:
    """A copy of the facesets with an empty model folder."""
    for side in ("data_src", "data_dst"):
        shutil.copytree(facesets.root / side, target / side)
    (target / "model").mkdir()
    return Workspace(target)


def tiny_config(**train: object) -> Config:
    return load_config(overrides={"train": {**TINY, **train}})
