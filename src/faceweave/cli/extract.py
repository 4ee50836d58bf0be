"""`faceweave extract src|dst`: video or photos to an aligned faceset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import build_config, config_options, info, progress, warn, workspace_option


@click.command("extract")
@click.argument("side", type=click.Choice(["src", "dst"]))
@workspace_option("Workspace folder (see `faceweave init`).")
@click.option("--input", "source", type=click.Path(path_type=Path),
              help="Video or folder of photos (default: data_<side>.mp4, else data_<side>/).")  # fmt: skip
@click.option(
    "--face-type", type=click.Choice(["half", "mid", "full", "whole", "head"]), help="Crop coverage."
)
@click.option("--size", "size_px", type=int, help="Crop side in pixels, 64-1024.")
@click.option("--format", "fmt", type=click.Choice(["png", "jpg"]), help="Aligned face file format.")
@click.option("--jpeg-quality", type=int, help="JPEG quality when --format jpg.")
@click.option("--reference", "references", multiple=True, type=click.Path(path_type=Path),
              help="Picture of the person to keep (repeatable); other faces are dropped.")  # fmt: skip
@click.option("--rotations/--no-rotations", "try_rotations", default=None,
              help="Also search frames turned 90/180/270 degrees when no face is upright.")  # fmt: skip
@click.option("--smoothing", type=float, help="Temporal landmark smoothing, 0 (off) to 1.")
@click.option("--workers", type=int, help="Detection processes (1 = in this process).")
@click.option("--debug", is_flag=True, help="Also write data_<side>/debug/ frames with boxes and landmarks.")
@click.option("--overwrite", is_flag=True, help="Replace faces an earlier run left in the faceset.")
@config_options
def command(
    side: str,
    workspace: Path,
    source: Path | None,
    face_type: str | None,
    size_px: int | None,
    fmt: str | None,
    jpeg_quality: int | None,
    references: tuple[Path, ...],
    try_rotations: bool | None,
    smoothing: float | None,
    workers: int | None,
    debug: bool,
    overwrite: bool,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
) -> None:
    """Detect, track and align the faces of SIDE into data_<side>/aligned/."""
    from faceweave.extract.run import find_input, run_extract
    from faceweave.media.decode import count_frames
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    ws.sweep(info)
    flags: dict[str, dict[str, Any]] = {"extract": {
        "face_type": face_type, "size_px": size_px, "format": fmt, "jpeg_quality": jpeg_quality,
        "try_rotations": try_rotations, "smoothing": smoothing, "workers": workers}}  # fmt: skip
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, flags)
    total = count_frames(find_input(ws, side, source))
    with progress(total, f"extract {side}") as tick:
        report = run_extract(config, ws, side, source, references, overwrite, debug, tick)
    if report.skipped_frames:
        warn(f"skipped {report.skipped_frames} unreadable frame(s) or image(s)")
    if report.frames_without_faces:
        shown = ", ".join(str(i) for i in report.frames_without_faces[:10])
        more = " ..." if len(report.frames_without_faces) > 10 else ""
        info(f"{len(report.frames_without_faces)} frame(s) without a face: {shown}{more}")
    if references:
        info(f"dropped {report.dropped_by_identity} face(s) not matching the reference")
    info(f"{report.faces} faces in {report.tracks} track(s) from {report.frames} frames")
    if report.debug_dir:
        info(f"debug frames in {report.debug_dir}")
    click.echo(str(report.out_dir))
