"""`faceweave frames VIDEO [OUT_DIR]`: a video to numbered PNG or JPEG frames."""

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


@click.command("frames")
@click.argument("video_path", type=click.Path(path_type=Path))
@click.argument("out_dir", required=False, type=click.Path(path_type=Path))
@click.option("--fps", type=Number(0.001, 1000), help="Keep frames at this rate (default: every frame).")
@click.option("--every-nth", type=Number(1, 1_000_000, integer=True), default=1, show_default=True,
              help="Keep one frame in N.")  # fmt: skip
@click.option("--start", "start_s", type=Number(0, 1e7), default=0.0, show_default=True,
              help="Start time in seconds.")  # fmt: skip
@click.option("--end", "end_s", type=Number(0, 1e7), help="End time in seconds (default: the end).")
@config_flag("frames.format", "--format")
@config_flag("frames.jpeg_quality", "--jpeg-quality")
@config_flag("decode.on_error", "--on-error")
@config_options
def command(video_path: Path, out_dir: Path | None, fps: float | None, every_nth: int,
            start_s: float, end_s: float | None, config_path: Path | None, preset: str | None,
            set_: tuple[str, ...], **flags: Any) -> None:  # fmt: skip
    """Write the frames of VIDEO_PATH as <frame index>.png into OUT_DIR (default: next to it,
    named after the video, as DeepFaceLab does: data_dst.mp4 -> data_dst/)."""
    from faceweave.atomic import sweep_stale
    from faceweave.media.decode import count_frames
    from faceweave.videotools import FrameSelection, run_frames

    config = build_config(config_path, preset, set_, flag_overrides(flags))
    selection = FrameSelection(start_s, end_s, fps, every_nth)
    target = out_dir or video_path.with_suffix("")
    sweep_stale(target, info)
    with progress(count_frames(video_path), "frames") as tick:
        report = run_frames(config, video_path, target, selection, tick)
    if report.skipped:
        warn(f"skipped {report.skipped} damaged frame(s)")
    if report.ended_early:
        warn(f"{video_path} ended after {report.decoded} frames, before its declared length (truncated?)")
    info(f"wrote {report.written} of {report.decoded} decoded frames")
    click.echo(str(report.out_dir))
