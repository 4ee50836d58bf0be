"""`faceweave mask import|train|apply`: masks a user teaches (DeepFaceLab's XSeg workflow)."""

from __future__ import annotations

from pathlib import Path

import click

from faceweave.cli.common import info, workspace_option


@click.group("mask")
def command() -> None:
    """Label faces, teach a mask model on them, and write its masks for whole facesets."""


@command.command("import")
@click.argument("faceset", type=click.Path(path_type=Path))
@click.option("--json", "json_file", type=click.Path(path_type=Path),
              help='Labels as {"faces": {"000012_0.png": {"include": [[[x, y], ...]], "exclude": [...]}}} '
                   "in crop pixels.")  # fmt: skip
@click.option("--images", type=click.Path(path_type=Path),
              help="A folder of mask pictures named after the face files (white = face).")  # fmt: skip
def import_command(faceset: Path, json_file: Path | None, images: Path | None) -> None:
    """Store include/exclude polygons in the face files of FACESET (all checked before any is written)."""
    from faceweave.occlusion.labels import import_labels, labels_from_images, labels_from_json

    if (json_file is None) == (images is None):
        raise click.UsageError("give exactly one of --json FILE or --images FOLDER")
    labels = labels_from_json(json_file) if json_file is not None else labels_from_images(images)  # type: ignore[arg-type]
    count = import_labels(faceset, labels)
    click.echo(f"labelled {count} face(s) in {faceset}")


@command.command("train")
@workspace_option("Workspace whose facesets hold the labels; the model goes to model/xseg/.")
@click.option("--faceset", "facesets", multiple=True, type=click.Path(path_type=Path),
              help="A faceset to learn from (repeatable; default: the workspace's src and dst).")  # fmt: skip
@click.option("--time", "time_limit", default="10m", show_default=True, help="How long, e.g. 90s, 10m, 1h.")
def train_command(workspace: Path, facesets: tuple[Path, ...], time_limit: str) -> None:
    """Teach the mask model on every labelled face; run it again to resume."""
    from faceweave.cli.train import parse_minutes
    from faceweave.occlusion.teach import teach
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    chosen = list(facesets) or [p for p in (ws.src_aligned, ws.dst_aligned) if p.is_dir()]
    report = teach(chosen, ws.model / "xseg", parse_minutes(time_limit), info)
    info(f"{report.steps} steps on {report.faces} labelled faces (step {report.total_steps} in all), "
         f"last loss {report.loss:.4f}")  # fmt: skip
    click.echo(str(report.model))


@command.command("apply")
@workspace_option("Workspace with the taught model in model/xseg/.")
@click.argument("facesets", nargs=-1, type=click.Path(path_type=Path))
def apply_command(workspace: Path, facesets: tuple[Path, ...]) -> None:
    """Write FACESET/_masks/ (default: the workspace's src and dst facesets): each face's labels where
    it has them, the taught model's mask elsewhere. Training and `--mask xseg` then use them."""
    from faceweave.occlusion.teach import apply_masks
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    for faceset in list(facesets) or [p for p in (ws.src_aligned, ws.dst_aligned) if p.is_dir()]:
        labelled, taught = apply_masks(faceset, ws.model / "xseg")
        click.echo(f"{faceset}: {labelled} mask(s) from labels, {taught} from the model")
