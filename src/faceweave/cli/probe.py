"""`faceweave probe FILE...`: what faceweave sees in a video."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("probe")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def command(files: tuple[Path, ...]) -> None:
    """Print size, rotation, frame rate, frame count, duration and audio of each video."""
    from faceweave.media import probe_video

    for path in files:
        v = probe_video(path)
        rate = "variable, mean " if v.is_vfr else ""
        click.echo(f"{path}: {v.codec} {v.width}x{v.height}"
                   + (f" (stored {v.coded_width}x{v.coded_height}, rotated {v.rotation_deg} deg)"
                      if v.rotation_deg else ""))  # fmt: skip
        click.echo(f"  {v.frame_count} frames, {rate}{float(v.fps):.3f} fps, {v.duration_s:.3f} s")
        for a in v.audio:
            click.echo(f"  audio #{a.index}: {a.codec} {a.sample_rate} Hz, {a.channels} ch")
        if not v.audio:
            click.echo("  no audio")
