"""An occluded dst workspace, extracted once per module run."""

from __future__ import annotations

import pytest

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.media.synth import ClipSpec
from faceweave.occlusion.clips import OccludedFrame, write_occluded_clip
from faceweave.pseudovideo import FacePuppet
from faceweave.workspace import Workspace, init_workspace


@pytest.fixture(scope="session")
def occluded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[OccludedFrame]]:
    ws = init_workspace(tmp_path_factory.mktemp("occlusion") / "ws").workspace
    spec = ClipSpec(seconds=2.0, fps=25, width=320, height=240, seed=1, audio=False)
    truth = write_occluded_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, "hand", 3)
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
    return ws, truth
