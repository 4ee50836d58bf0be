"""`faceweave video FRAMES OUT.mp4`: numbered frames (or a video) to H.264 MP4 with audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import (
    Number,
    build_config,
    config_flag,
    config_options,
    flag_overrides,
    info,
    progress,
    warn,
)


@click.command("video")
@click.argument("frames_in", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--audio-from", type=click.Path(path_type=Path), help="Video whose audio (and rate) to use.")
@click.option(
    "--fps", type=Number(0.001, 1000), help="Frame rate (default: --audio-from's, else decode.image_fps)."
)
@config_flag("video.crf", "--crf")
@config_flag("video.preset", "--x264-preset")
@config_flag("video.audio", "--audio")
@config_options
def command(frames_in: Path, out: Path, audio_from: Path | None, fps: float | None,
            config_path: Path | None, preset: str | None, set_: tuple[str, ...],
            **flags: Any) -> None:  # fmt: skip
    """Encode the images in FRAMES_IN (sorted by number) or a video to OUT as H.264 MP4."""
    from faceweave.atomic import sweep_stale
    from faceweave.media.decode import count_frames
    from faceweave.videotools import run_video

    config = build_config(config_path, preset, set_, flag_overrides(flags))
    sweep_stale(out.parent, info)
    with progress(count_frames(frames_in), "encode") as tick:
        report = run_video(config, frames_in, out, audio_from, fps, tick)
    enc = report.encode
    if report.skipped:
        warn(f"skipped {report.skipped} unreadable image(s)")
    if enc.padded:
        warn(f"odd frame size padded by one pixel to {enc.width}x{enc.height} (H.264 4:2:0 needs even sides)")
    info(f"wrote {enc.frames} frames at {float(report.fps):.3f} fps, audio {enc.audio}")
    click.echo(str(enc.path))
