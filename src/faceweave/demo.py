"""`faceweave demo`: the whole pipeline on pseudo-videos of two bundled synthetic faces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from faceweave.assets import load_sample_face
from faceweave.config import Config
from faceweave.media.synth import ClipSpec
from faceweave.pipeline import PipelineReport, run_pipeline
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace

SRC_FACE, DST_FACE = 0, 1


@dataclass(frozen=True)
class DemoReport:
    workspace: Workspace
    src_video: Path
    dst_video: Path
    pipeline: PipelineReport


def make_demo_videos(ws: Workspace, config: Config, seconds: float, say: Callable[[str], None]) -> None:
    settings = config.video.encode_settings()
    for side, path, face_index in (("src", ws.src_video, SRC_FACE), ("dst", ws.dst_video, DST_FACE)):
        say(f"writing the {side} pseudo-video {path.name} (pose jitter, mouth and blinks) ...")
        spec = ClipSpec(seconds=seconds, fps=25, width=640, height=360, seed=face_index, flash_s=(1.0,))
        write_puppet_clip(
            path, FacePuppet.from_image(load_sample_face(face_index)), spec, face_index, settings
        )


def run_demo(
    config: Config,
    root: Path,
    seconds: float,
    train_minutes: float,
    say: Callable[[str], None] = lambda _: None,
) -> DemoReport:
    """Make src and dst pseudo-videos, then run the whole pipeline on them (`faceweave run`)."""
    ws = init_workspace(root).workspace
    make_demo_videos(ws, config, seconds, say)
    say(f"the pipeline: extract both sides, train the quick model for {train_minutes:g} min, merge ...")
    train = replace(config.train, time_limit_min=train_minutes, iterations=0)
    pipeline = run_pipeline(replace(config, train=train), ws.root, ws.src_video, ws.dst_video, say)
    return DemoReport(ws, ws.src_video, ws.dst_video, pipeline)
