"""`faceweave run`: the whole pipeline, src and dst videos in, result.mp4 out; rerun to resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import build_config, config_options, info, print_eval, workspace_option
from faceweave.cli.train import parse_minutes


@click.command("run")
@click.option("--src", type=click.Path(path_type=Path), required=True, help="Video of the face to insert.")
@click.option(
    "--dst", type=click.Path(path_type=Path), required=True, help="Video whose performance is kept."
)
@workspace_option("Workspace folder (created; reused to resume).", "faceweave_run")
@click.option("--iterations", type=int, help="Train to this total step count.")
@click.option("--time", "time_limit", help="Train this long in total across runs, e.g. 10m (default 15m).")
@config_options
def command(
    src: Path,
    dst: Path,
    workspace: Path,
    iterations: int | None,
    time_limit: str | None,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
) -> None:
    """Init, extract src and dst, train, merge. Interrupted, run it again: it resumes."""
    from faceweave.pipeline import run_pipeline
    from faceweave.workspace import Workspace

    if iterations is not None and time_limit is not None:
        raise click.UsageError("give --iterations or --time, not both")
    minutes = parse_minutes(time_limit) if time_limit else (None if iterations else 15.0)
    flags: dict[str, dict[str, Any]] = {"train": {"iterations": iterations, "time_limit_min": minutes}}
    ws = Workspace(workspace)
    ws.sweep(info)
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, flags)
    report = run_pipeline(config, workspace, src, dst, info)
    click.echo(f"result:     {report.merged.result}")
    click.echo(f"comparison: {report.comparison} (dst frame | merged frame)")
    print_eval(report.evaluation, report.workspace.root / "eval")
