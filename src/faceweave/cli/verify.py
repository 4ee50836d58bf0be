"""`faceweave verify FILE...`: does each file say it is synthetic, and is that claim intact?"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def command(files: tuple[Path, ...]) -> None:
    """Report each file's C2PA manifest (valid / tampered / none), synthetic-media tags and the
    invisible watermark (videos: both marks' scores and the payload; pictures: the still mark).

    Exits 1 when a file carries neither a manifest nor the watermark, 0 when every file does.
    """
    from faceweave.provenance.verify import describe, verify_file

    verdicts = [verify_file(path) for path in files]
    for verdict in verdicts:
        click.echo("\n".join(describe(verdict)))
    unlabelled = [v.path for v in verdicts if not v.labelled]
    if unlabelled:
        click.echo(f"no faceweave label on: {', '.join(str(p) for p in unlabelled)}", err=True)
        sys.exit(1)
