"""`faceweave init DIR`: create a workspace and its faceweave.toml."""

from __future__ import annotations

from pathlib import Path

import click

from faceweave.cli.common import info


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--preset",
    metavar="NAME",
    help="Write this preset's values (quick, balanced, hd) into the config "
    "(default: the one that suits this machine).",
)
@click.option("--force", is_flag=True, help="Rewrite faceweave.toml even if it exists.")
def command(directory: Path, preset: str | None, force: bool) -> None:
    """Create a DeepFaceLab-style workspace in DIRECTORY with a commented faceweave.toml."""
    from faceweave.workspace import init_workspace

    report = init_workspace(directory, preset, overwrite_config=force)
    for folder in report.created:
        info(f"created {folder}/")
    if report.config_written:
        info(f"wrote {report.workspace.config}")
    else:
        info(f"kept existing {report.workspace.config} (use --force to rewrite it)")
    click.echo(str(report.workspace.root))
