"""`faceweave demo`: the pipeline as far as it exists, on pseudo-videos of bundled synthetic faces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from faceweave.assets import load_sample_face
from faceweave.config import Config
from faceweave.extract.run import ExtractReport, run_extract
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.train.run import TrainReport, run_train
from faceweave.videotools import FrameSelection, run_frames, run_video
from faceweave.workspace import Workspace, init_workspace

# Stages that later steps add; the demo says plainly that they are not there yet.
MISSING_STAGES = (
    "merge (swapped face back into every dst frame -> result.mp4)",
    "provenance (watermark, signed manifest, `faceweave verify`)",
)
SRC_FACE, DST_FACE = 0, 1


@dataclass(frozen=True)
class DemoReport:
    workspace: Workspace
    src_video: Path
    dst_video: Path
    extracted: tuple[ExtractReport, ExtractReport]
    trained: TrainReport
    frames_dir: Path
    frames_written: int
    roundtrip: Path
    missing: tuple[str, ...]


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
    seconds: float = 4.0,
    train_minutes: float = 1.0,
    say: Callable[[str], None] = lambda _: None,
) -> DemoReport:
    """Make src and dst pseudo-videos, extract both facesets, and round-trip dst through frames."""
    ws = init_workspace(root).workspace
    make_demo_videos(ws, config, seconds, say)
    extracted = []
    for side in ("src", "dst"):
        say(f"extracting {side} faces ...")
        extracted.append(run_extract(config, ws, side, overwrite=True))
    say(f"training the quick model for {train_minutes:g} min (a real swap needs about 15) ...")
    train_config = replace(config, train=replace(config.train, time_limit_min=train_minutes, iterations=0))
    trained = run_train(train_config, ws, say=say)
    frames_dir = ws.root / "data_dst"
    say("splitting data_dst.mp4 into frames ...")
    frames = run_frames(config, ws.dst_video, frames_dir, FrameSelection())
    say("putting the frames back together with dst's audio ...")
    roundtrip = ws.root / "roundtrip.mp4"
    run_video(config, frames_dir, roundtrip, audio_from=ws.dst_video)
    return DemoReport(ws, ws.src_video, ws.dst_video, (extracted[0], extracted[1]), trained, frames_dir,
                      frames.written, roundtrip, MISSING_STAGES)  # fmt: skip
