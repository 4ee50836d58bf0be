"""`faceweave extract src|dst`: video or photos to an aligned faceset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import (
    build_config,
    config_flag,
    config_options,
    flag_overrides,
    info,
    progress,
    warn,
    workspace_option,
)  # fmt: skip


@click.command("extract")
@click.argument("side", type=click.Choice(["src", "dst"]))
@workspace_option("Workspace folder (see `faceweave init`).")
@click.option("--input", "source", type=click.Path(path_type=Path),
              help="Video or folder of photos (default: data_<side>.mp4, else data_<side>/).")  # fmt: skip
@config_flag("extract.face_type", "--face-type")
@config_flag("extract.detector", "--detector")
@config_flag("extract.size_px", "--size")
@config_flag("extract.format", "--format")
@config_flag("extract.jpeg_quality", "--jpeg-quality")
@click.option("--reference", "references", multiple=True, type=click.Path(path_type=Path),
              help="Picture of the person to keep (repeatable); other faces are dropped.")  # fmt: skip
@config_flag("extract.try_rotations", "--rotations")
@config_flag("extract.smoothing", "--smoothing")
@config_flag("extract.workers", "--workers")
@click.option("--debug", is_flag=True, help="Also write data_<side>/debug/ frames with boxes and landmarks.")
@click.option("--overwrite", is_flag=True, help="Replace faces an earlier run left in the faceset.")
@config_options
def command(
    side: str,
    workspace: Path,
    source: Path | None,
    references: tuple[Path, ...],
    debug: bool,
    overwrite: bool,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
    **flags: Any,
) -> None:
    """Detect, track and align the faces of SIDE into data_<side>/aligned/."""
    from faceweave.extract.run import find_input, run_extract
    from faceweave.media.decode import count_frames
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    ws.sweep(info)
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, flag_overrides(flags))
    total = count_frames(find_input(ws, side, source))
    with progress(total, f"extract {side}") as tick:
        report = run_extract(config, ws, side, source, references, overwrite, debug, tick)
    if report.skipped_frames:
        warn(f"skipped {report.skipped_frames} unreadable frame(s) or image(s)")
    if report.frames_without_faces:
        shown = ", ".join(str(i) for i in report.frames_without_faces[:10])
        more = " ..." if len(report.frames_without_faces) > 10 else ""
        info(f"{len(report.frames_without_faces)} frame(s) without a face: {shown}{more}")
    if report.bridged:
        info(f"{report.bridged} face(s) bridged over a detector miss (marked in their metadata)")
    if references:
        info(f"dropped {report.dropped_by_identity} face(s) not matching the reference")
    info(f"{report.faces} faces in {report.tracks} track(s) from {report.frames} frames")
    if report.debug_dir:
        info(f"debug frames in {report.debug_dir}")
    click.echo(str(report.out_dir))
