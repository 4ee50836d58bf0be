"""A bundled synthetic face with its mesh, and short src/dst pseudo-videos for eval."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from faceweave.assets import load_sample_face
from faceweave.extract.detect import MediapipeFaceFinder
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, calm_at, expressive_at, write_puppet_clip
from faceweave.records import ImageBGR


@dataclass(frozen=True)
class MeshedFace:
    image: ImageBGR
    landmarks: npt.NDArray[np.float64]


@pytest.fixture(scope="session")
def meshed_face() -> MeshedFace:
    """Bundled face 1 on a 480x480 canvas, with the mesh found on it."""
    image = load_sample_face(1)
    finder = MediapipeFaceFinder()
    try:
        faces = finder.find(image)
    finally:
        finder.close()
    return MeshedFace(image, faces[0].landmarks_478)


@dataclass(frozen=True)
class EvalClips:
    src: Path
    dst: Path
    truth: Path


@pytest.fixture(scope="session")
def eval_clips(tmp_path_factory: pytest.TempPathFactory) -> EvalClips:
    """src: face 0 calm for 2 s; dst: face 1 expressive for 3 s (480x360, 25 fps), with its truth."""
    folder = tmp_path_factory.mktemp("eval")
    src, dst = folder / "src.mp4", folder / "dst.mp4"
    write_puppet_clip(
        src,
        FacePuppet.from_image(load_sample_face(0)),
        ClipSpec(2.0, 25, 480, 360, seed=0),
        0,
        timeline=calm_at,
    )
    truth = write_puppet_clip(
        dst,
        FacePuppet.from_image(load_sample_face(1)),
        ClipSpec(3.0, 25, 480, 360, seed=1),
        1,
        timeline=expressive_at,
    )
    truth_path = folder / "truth.json"
    truth_path.write_text(json.dumps({"frames": [asdict(t[0].expression) for t in truth]}), encoding="utf-8")
    return EvalClips(src, dst, truth_path)
