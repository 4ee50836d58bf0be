"""`faceweave faceset ...`: inspect a faceset."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("faceset")
def command() -> None:
    """Inspect facesets (folders of aligned faces)."""


@command.command("info")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--decode", is_flag=True, help="Also decode every image (finds damaged pixel data; slower).")
def info_command(folder: Path, decode: bool) -> None:
    """Counts, crop sizes, face types, tracks, pose ranges and frames without faces; each damaged
    file with what is wrong with it."""
    from faceweave.faceset.info import REASON_MAX_CHARS, faceset_info, shown

    info = faceset_info(folder, decode)
    click.echo(f"{folder}: {info.faces} faces")
    if info.unreadable:
        click.echo(f"  {len(info.unreadable)} damaged file(s):")
        for bad in info.unreadable:
            click.echo(f"    {shown(bad.name)}: {shown(bad.reason, REASON_MAX_CHARS)}")
    if not info.faces:
        return
    click.echo("  sizes: " + ", ".join(f"{s}px x{n}" for s, n in sorted(info.sizes.items())))
    click.echo("  face types: " + ", ".join(f"{t} x{n}" for t, n in sorted(info.face_types.items())))
    if info.bridged:
        click.echo(f"  bridged over a detector miss: {info.bridged} face(s)")
    click.echo("  tracks: " + ", ".join(f"#{t}: {n}" for t, n in sorted(info.tracks.items())))
    click.echo("  sources: " + ", ".join(f"{shown(s)} x{n}" for s, n in sorted(info.sources.items())))
    for name, (lo, hi) in (("yaw", info.yaw), ("pitch", info.pitch), ("roll", info.roll)):
        click.echo(f"  {name}: {lo:+.1f} .. {hi:+.1f} deg")
    if info.frames_read is not None:
        missing = info.frames_without_faces
        listed = ", ".join(str(i) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
        click.echo(
            f"  frames read: {info.frames_read}; without a face: {len(missing)}"
            + (f" ({listed})" if missing else "")
        )
    if info.summary_problem:
        click.echo(f"  extraction summary: {shown(info.summary_problem, REASON_MAX_CHARS)}")
