"""`faceweave verify FILE|FOLDER...`: does each file say it is synthetic, and is that claim intact?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from faceweave.errors import UserError

EXIT_LABELLED, EXIT_UNLABELLED, EXIT_UNREADABLE = 0, 1, 2


def expand(paths: tuple[Path, ...]) -> list[Path | UserError]:
    """Files as given, and the files of each folder that verify can read (sorted); a folder without
    any becomes an error in its place, so every argument is answered."""
    from faceweave.provenance.manifest import FORMATS

    found: list[Path | UserError] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
        if not inside:
            found.append(UserError(f"{path} is a folder with no {', '.join(sorted(FORMATS))} file in it"))
        found.extend(inside)
    return found


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def command(files: tuple[Path, ...]) -> None:
    """Report each file's C2PA manifest (valid / tampered / none), synthetic-media tags and the
    invisible watermark (videos: both marks' scores and the payload; pictures: the still mark).
    A folder stands for the videos and pictures in it.

    Every file is reported; the exit status is the worst: 2 when a file cannot be read, 1 when a file
    carries neither a manifest nor the watermark, 0 when every file does.
    """
    from faceweave.provenance.verify import describe, verify_file

    status, unlabelled = EXIT_LABELLED, []
    for item in expand(files):
        try:
            if isinstance(item, UserError):
                raise item
            verdict = verify_file(item)
        except UserError as exc:
            click.secho(f"error: {exc}", err=True, fg="red")
            status = max(status, EXIT_UNREADABLE)
            continue
        click.echo("\n".join(describe(verdict)))
        if not verdict.labelled:
            unlabelled.append(verdict.path)
            status = max(status, EXIT_UNLABELLED)
    if unlabelled:
        click.echo(f"no faceweave label on: {', '.join(str(p) for p in unlabelled)}", err=True)
    sys.exit(status)
