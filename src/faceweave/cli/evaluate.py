"""`faceweave eval`: how good is the swap? Identity, performance kept, stability, blend, untouched."""

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
    print_eval,
    progress,
    workspace_option,
)  # fmt: skip


@click.command("eval")
@workspace_option("Workspace whose result.mp4, dst video and src faceset are the defaults.")
@click.option("--result", type=click.Path(path_type=Path), help="The swapped video (default: result.mp4).")
@click.option("--dst", type=click.Path(path_type=Path), help="The dst video it was merged into.")
@click.option(
    "--src",
    type=click.Path(path_type=Path),
    multiple=True,
    help="src: a video, a faceset folder, a folder of pictures or pictures (repeatable).",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Report folder (default: the workspace's eval/).",
)
@click.option(
    "--truth",
    type=click.Path(path_type=Path),
    help="A pseudo-video's true expression per frame (JSON), scored against too.",
)
@config_flag("eval.identity_every", "--identity-every")
@config_options
def command(
    workspace: Path,
    result: Path | None,
    dst: Path | None,
    src: tuple[Path, ...],
    out_dir: Path | None,
    truth: Path | None,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
    **flags: Any,
) -> None:
    """Score a swap: frame i of the result against frame i of dst, faces matched per track.

    Writes eval/report.json, eval/report.html and eval/worst_frames.png and prints the summary."""
    from faceweave.media.probe import probe_video
    from faceweave.quality.run import check_pair, run_eval, workspace_inputs
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, flag_overrides(flags))
    inputs = workspace_inputs(ws, result, dst, src, out_dir, truth)
    check_pair(inputs.result, inputs.dst)
    with progress(probe_video(inputs.dst).frame_count, "eval") as tick:
        report = run_eval(config, inputs, tick, info)
    info(f"scored in {report.seconds:.1f} s")
    print_eval(report, inputs.out_dir)
