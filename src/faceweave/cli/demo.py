"""`faceweave demo`: the whole pipeline on the bundled synthetic faces."""

from __future__ import annotations

from pathlib import Path

import click

from faceweave.cli.common import build_config, config_options, info, print_eval, workspace_option

# With extraction and merging, the whole demo takes about 15 minutes on a 2-core CPU: the time the
# quick model needs to show a recognisable swap.
DEMO_TRAIN_MINUTES = 14.0


@click.command("demo")
@workspace_option("Workspace folder to create and fill.", "demo_workspace")
@click.option("--seconds", type=click.FloatRange(1.0, 60.0), default=4.0, show_default=True,
              help="Length of the generated clips.")  # fmt: skip
@click.option(
    "--train-minutes",
    type=click.FloatRange(0.1, 600.0),
    default=DEMO_TRAIN_MINUTES,
    show_default=True,
    help="How long to train the quick model (a recognisable swap needs about 15).",
)
@config_options
def command(
    workspace: Path,
    seconds: float,
    train_minutes: float,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
) -> None:
    """Build src and dst pseudo-videos from two bundled synthetic faces and run the pipeline."""
    from faceweave.demo import run_demo

    config = build_config(config_path, preset or "quick", set_)
    report = run_demo(config, workspace, seconds, train_minutes, info)
    pipeline = report.pipeline
    click.echo(f"src video:   {report.src_video}")
    click.echo(f"dst video:   {report.dst_video}")
    if pipeline.trained is not None:
        trained = pipeline.trained
        click.echo(
            f"model:       {trained.checkpoint} ({trained.iteration} iterations; preview {trained.preview})"
        )
    click.echo(f"result:      {pipeline.merged.result}")
    click.echo(f"comparison:  {pipeline.comparison} (dst frame | merged frame)")
    click.echo(
        f"watermark:   {pipeline.merged.watermark:016x} (check: faceweave verify {pipeline.merged.result})"
    )
    print_eval(pipeline.evaluation, pipeline.workspace.root / "eval")
