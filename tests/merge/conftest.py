"""A dst workspace extracted once per session from an expressive pseudo-video with sound."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from faceweave.assets import load_sample_face
from faceweave.config import Config, load_config
from faceweave.extract.run import run_extract
from faceweave.formats.summary import read_summary, summary_path, write_summary
from faceweave.media.synth import ClipSpec
from faceweave.models import FaceSwapModel, ModelConfig
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace

CROP = 128


class IdentityModel(FaceSwapModel):
    """Returns its input face and a full mask: merging with it must give the dst frames back."""

    def __init__(self, resolution: int = CROP) -> None:
        super().__init__()
        self.config = ModelConfig(resolution=resolution)
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # so .to(device) has something to move

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return dst_faces, torch.ones_like(dst_faces[:, :1])


def exact_config(**merge: object) -> Config:
    """Merge settings that change nothing but the geometry: no colour, no feather."""
    return load_config(overrides={"merge": {"color": "none", "blur": 0.0, "mask": "learned", **merge},
                                  "video": {"crf": 0, "preset": "ultrafast"}})  # fmt: skip


@pytest.fixture(scope="session")
def dst_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = init_workspace(tmp_path_factory.mktemp("merge") / "ws").workspace
    spec = ClipSpec(seconds=1.2, fps=25, width=320, height=240, seed=1, audio=True)
    write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, 1)
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": CROP}}), ws, "dst")
    return ws


def copy_workspace(ws: Workspace, target: Path) -> Workspace:
    """A copy whose extract.json names the copy's own dst video."""
    shutil.copytree(ws.root, target)
    copy = Workspace(target)
    path = summary_path(copy.dst_aligned)
    write_summary(path, replace(read_summary(path), source=str(copy.dst_video)))
    return copy
