"""What a user watches: a preview grid, a JSONL log, a loss plot. All headless."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.atomic import write_bytes_atomic
from faceweave.models import FaceSwapModel
from faceweave.records import ImageBGR

PREVIEW_COLUMNS = ("src", "src->src", "dst", "dst->dst", "dst->src")


def _to_images(batch: torch.Tensor) -> list[ImageBGR]:
    array = (batch.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).astype(np.uint8)
    return [np.ascontiguousarray(a[..., ::-1]) for a in array]


@torch.no_grad()
def preview_grid(model: FaceSwapModel, src: torch.Tensor, dst: torch.Tensor) -> ImageBGR:
    """Rows of fixed faces; columns src, src->src, dst, dst->dst, dst->src."""
    was_training = model.training
    model.eval()
    columns = [
        src,
        model.reconstruct(src, "src")[0],
        dst,
        model.reconstruct(dst, "dst")[0],
        model.swap(dst)[0],
    ]
    model.train(was_training)
    images = [_to_images(c) for c in columns]
    rows = [np.hstack([col[r] for col in images]) for r in range(len(images[0]))]
    grid = np.vstack(rows)
    header = np.full((18, grid.shape[1], 3), 30, np.uint8)
    width = grid.shape[1] // len(PREVIEW_COLUMNS)
    for i, name in enumerate(PREVIEW_COLUMNS):
        cv2.putText(header, name, (i * width + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1)
    return np.vstack([header, grid])


def write_preview(model_dir: Path, iteration: int, grid: ImageBGR) -> Path:
    data = cv2.imencode(".png", grid)[1].tobytes()
    history = model_dir / "previews"
    history.mkdir(exist_ok=True)
    write_bytes_atomic(history / f"{iteration:09d}.png", data)
    write_bytes_atomic(model_dir / "preview.png", data)
    return model_dir / "preview.png"


def append_log(path: Path, record: dict[str, float | int | str]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def write_loss_plot(log_path: Path, out: Path) -> None:
    """Loss per side over iterations, from the JSONL log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = log_path.read_text(encoding="utf-8").splitlines()
    rows = [row for row in (json.loads(line) for line in lines if line.strip()) if "iteration" in row]
    if not rows:
        return
    steps: npt.NDArray[np.float64] = np.array([r["iteration"] for r in rows], np.float64)
    figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
    for key in ("loss_src", "loss_dst"):
        axis.plot(steps, [r[key] for r in rows], label=key.replace("loss_", ""))
    axis.set_xlabel("iteration")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    temp = out.with_name(f".{out.name}.partial.png")
    figure.savefig(temp)
    plt.close(figure)
    temp.replace(out)
