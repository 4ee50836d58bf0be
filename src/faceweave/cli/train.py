"""`faceweave train`: train (or resume) the workspace's model on its two facesets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import (
    build_config,
    config_flag,
    config_options,
    flag_overrides,
    info,
    workspace_option,
)


def parse_minutes(text: str) -> float:
    """'90s', '10m', '1.5h' or a bare number of minutes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 10m or 1.5h")
    value, unit = float(match.group(1)), match.group(2) or "m"
    return value * {"s": 1 / 60, "m": 1.0, "h": 60.0}[unit]


@click.command("train")
@workspace_option("Workspace folder with data_src/aligned and data_dst/aligned.")
@config_flag("train.iterations", "--iterations")
@click.option("--time", "time_limit", help="Stop after this long, e.g. 10m, 90s, 1h (train.time_limit_min).")
@config_flag("train.batch_size", "--batch-size")
@config_flag("train.seed", "--seed")
@config_flag("train.device", "--device")
@click.option("--resume-from", type=click.Path(path_type=Path), help="A checkpoint folder to resume from.")
@config_options
def command(
    workspace: Path,
    time_limit: str | None,
    resume_from: Path | None,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
    **flags: Any,
) -> None:
    """Train the shared-encoder autoencoder; every [train] option of faceweave.toml applies.

    Saves every train.save_every_min, on Ctrl-C and on SIGTERM; run it again to resume.
    """
    from faceweave.train.run import run_train
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    ws.sweep(info)
    overrides = flag_overrides(flags)
    if time_limit:
        # A duration with its unit ("90s", "1.5h") is friendlier than the option's minutes.
        overrides.setdefault("train", {})["time_limit_min"] = parse_minutes(time_limit)
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, overrides)
    if not config.train.iterations and not config.train.time_limit_min:
        raise click.UsageError("give --iterations or --time (or set them in [train]) so training can end")
    report = run_train(config, ws, resume_from, info)
    if not report.main:
        return  # rank 0 reports for a torchrun launch
    info(
        f"{report.steps_this_run} steps in {report.seconds:.0f} s, {report.samples_per_s:.1f} faces/s; "
        f"losses src {report.last_loss_src:.4f} dst {report.last_loss_dst:.4f}"
    )
    info(f"preview: {report.preview}")
    click.echo(str(report.checkpoint))
