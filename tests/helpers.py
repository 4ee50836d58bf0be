"""Measurements tests make on media: audio and picture events, read with PyAV directly."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from click.testing import CliRunner, Result

from faceweave.media._av import seconds
from faceweave.workspace import Workspace


def audio_samples(path: Path) -> tuple[npt.NDArray[np.float32], int, float]:
    """(mono samples, sample rate, start time relative to the first video frame) of a file."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        video_start = seconds(video.start_time, video.time_base)
        stream = container.streams.audio[0]
        chunks, first = [], None
        for frame in container.decode(stream):
            if first is None:
                first = frame.time or 0.0
            chunks.append(frame.to_ndarray().astype(np.float32).reshape(frame.layout.nb_channels, -1)[0])
        rate = stream.codec_context.sample_rate
    return np.concatenate(chunks), rate, (first or 0.0) - video_start


def beep_onset_s(path: Path) -> float:
    """Time of the first loud 1 kHz beep, relative to the first video frame."""
    samples, rate, start = audio_samples(path)
    envelope = np.convolve(np.abs(samples), np.ones(96) / 96, mode="same")
    return start + int(np.argmax(envelope > 0.3)) / rate


def audio_duration_s(path: Path) -> float:
    samples, rate, _ = audio_samples(path)
    return len(samples) / rate


def run(*args: str | Path) -> Result:
    """The faceweave command line, in this process."""
    from faceweave.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit 2 with exactly one `error: ` line holding every fragment, and no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0]


def extract_two_people(root: Path, size_px: int = 96, clip_s: float = 0.8) -> Workspace:
    """A workspace at `root` whose src faceset is bundled face 0 and dst faceset face 1, each from a
    short pseudo-video (one face per frame)."""
    from faceweave.assets import load_sample_face
    from faceweave.config import load_config
    from faceweave.extract.run import run_extract
    from faceweave.media.synth import ClipSpec
    from faceweave.pseudovideo import FacePuppet, write_puppet_clip
    from faceweave.workspace import init_workspace

    ws = init_workspace(root).workspace
    extract = load_config(overrides={"extract": {"workers": 1, "size_px": size_px}})
    for side, face in (("src", 0), ("dst", 1)):
        clip = ws.root / f"{side}.mp4"
        spec = ClipSpec(seconds=clip_s, fps=25, width=320, height=240, seed=face, audio=False)
        write_puppet_clip(clip, FacePuppet.from_image(load_sample_face(face)), spec, face)
        run_extract(extract, ws, side, source=clip)
    return ws


TINY_MODEL = {"encoder_dims": 8, "bottleneck_dims": 32, "decoder_dims": 8, "mask_dims": 4,
              "loader_workers": 0,
              "precision": "fp32", "preview_every": 0}  # fmt: skip


def train_tiny(ws: Workspace, steps: int = 3) -> None:
    """A tiny model trained `steps` steps on the workspace's facesets, its settings in the
    workspace's faceweave.toml (so the studio and the CLI load the same model)."""
    from faceweave.config import load_config, render_toml
    from faceweave.train.run import run_train

    config = load_config(overrides={"train": {**TINY_MODEL, "iterations": steps}, "merge": {"workers": 1},
                                    "extract": {"workers": 1, "size_px": 96}})  # fmt: skip
    ws.config.write_text(render_toml(config))
    run_train(config, ws)
