"""`faceweave mask train` and `mask apply`: a segmenter taught on a user's labelled faces.

It starts from the shipped occluder segmenter (same network) and learns "not face" where the
labels say so, so its first steps already know hands and glasses. Checkpoints are written like
the model's (in memory first, then atomically: weights, optimizer and state), every minute and on
Ctrl-C, and a new run resumes from them.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors

from faceweave.atomic import write_bytes_atomic
from faceweave.errors import UserError
from faceweave.formats.aligned import list_face_files, read_aligned_face
from faceweave.occlusion.labels import label_mask, labelled_faces, write_mask
from faceweave.occlusion.segmenter import ASSET, INPUT_PX, WIDTHS, OccluderNet, Segmenter, to_input, visible

MODEL_NAME, OPTIMIZER_NAME, STATE_NAME = "xseg.safetensors", "xseg_optimizer.pt", "xseg.json"
SAVE_EVERY_S = 60.0
Say = Callable[[str], None]


@dataclass(frozen=True)
class TeachReport:
    faces: int
    steps: int
    total_steps: int
    loss: float
    model: Path


def _samples(facesets: list[Path]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    images, targets = [], []
    for faceset in facesets:
        for path, meta in labelled_faces(faceset):
            image = read_aligned_face(path)[0]
            images.append(cv2.resize(image, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA))
            targets.append(1 - label_mask(meta.labels, meta.size_px, INPUT_PX))  # 1 = not face
    if not images:
        raise UserError(
            f"no labelled face in {', '.join(map(str, facesets))}: "
            "import labels with `faceweave mask import` first"
        )
    return np.stack(images), np.stack(targets)


def _batch(images: npt.NDArray[np.uint8], targets: npt.NDArray[np.float32], rng: np.random.Generator,
           size: int) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Random faces with flips, small rotations and shifts, and colour changes (labels follow)."""
    xs, ys = [], []
    for k in rng.integers(0, len(images), size):
        angle, zoom = float(rng.normal(0, 8)), math.exp(rng.normal(0, 0.08))
        matrix = np.asarray(cv2.getRotationMatrix2D((INPUT_PX / 2, INPUT_PX / 2), angle, zoom), np.float64)
        matrix[:, 2] += rng.normal(0, INPUT_PX * 0.04, 2)
        image = cv2.warpAffine(images[k], matrix, (INPUT_PX, INPUT_PX), borderMode=cv2.BORDER_REFLECT)
        target = cv2.warpAffine(targets[k], matrix, (INPUT_PX, INPUT_PX), borderMode=cv2.BORDER_REFLECT)
        if rng.random() < 0.5:
            image, target = image[:, ::-1], target[:, ::-1]
        tinted = np.clip(image.astype(np.float32) * rng.uniform(0.75, 1.25, 3) + rng.normal(0, 8), 0, 255)
        xs.append(tinted.astype(np.uint8))
        ys.append(target)
    return to_input(xs), torch.from_numpy(np.ascontiguousarray(np.stack(ys)))[:, None].float()


def _load(model_dir: Path) -> tuple[OccluderNet, torch.optim.Optimizer, dict[str, int]]:
    net = OccluderNet(WIDTHS)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    state = {"steps": 0}
    weights = model_dir / MODEL_NAME
    try:
        if weights.is_file():
            described = json.loads((model_dir / STATE_NAME).read_text(encoding="utf-8"))
            if described.get("widths") != list(WIDTHS) or described.get("input_px") != INPUT_PX:
                raise UserError(
                    f"{weights} is a mask model of another size ({described.get('input_px')} px, widths "
                    f"{described.get('widths')}); this faceweave trains {INPUT_PX} px, widths {list(WIDTHS)}"
                )
            _strict_load(net, load_file(str(weights)), weights)
            extra = torch.load(model_dir / OPTIMIZER_NAME, map_location="cpu", weights_only=True)
            optimizer.load_state_dict(extra["optimizer"])
            state["steps"] = int(described["steps"])
        else:
            _strict_load(net, load_file(str(ASSET)), ASSET)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"the mask model in {model_dir} is damaged ({type(exc).__name__}); move it away to start over"
        ) from exc
    return net, optimizer, state


def _strict_load(net: OccluderNet, weights: dict[str, torch.Tensor], path: Path) -> None:
    missing, unexpected = net.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise UserError(f"{path} is not a mask model of this faceweave's segmenter")


def _save(
    model_dir: Path, net: OccluderNet, optimizer: torch.optim.Optimizer, steps: int, faces: int
) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict()}, buffer)
    weights = save_tensors({k: v.detach().contiguous() for k, v in net.state_dict().items()})
    described = {"widths": list(WIDTHS), "input_px": INPUT_PX, "steps": steps, "labelled_faces": faces}
    # The state file goes last: it names the step the weights and optimizer belong to.
    write_bytes_atomic(model_dir / MODEL_NAME, weights)
    write_bytes_atomic(model_dir / OPTIMIZER_NAME, buffer.getvalue())
    write_bytes_atomic(model_dir / STATE_NAME, (json.dumps(described, indent=1) + "\n").encode())


def teach(facesets: list[Path], model_dir: Path, minutes: float, say: Say = lambda _: None,
          batch: int = 16, seed: int = 0) -> TeachReport:  # fmt: skip
    """Train (or resume) the user's mask model on every labelled face of `facesets` for `minutes`."""
    images, targets = _samples(facesets)
    net, optimizer, state = _load(model_dir)
    start_steps = state["steps"]
    begin = f"resuming at step {start_steps}" if start_steps else "starting from the shipped segmenter"
    say(f"{len(images)} labelled faces; {begin}")
    rng = np.random.default_rng([seed, start_steps])
    torch.manual_seed(seed + start_steps)
    net.train()
    steps, loss_value = start_steps, float("nan")
    start = last_save = time.monotonic()
    try:
        while time.monotonic() - start < minutes * 60:
            x, y = _batch(images, targets, rng, batch)
            logits = net(x)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            steps, loss_value = steps + 1, float(loss.detach())
            if time.monotonic() - last_save >= SAVE_EVERY_S:
                _save(model_dir, net, optimizer, steps, len(images))
                last_save = time.monotonic()
                say(f"step {steps}  loss {loss_value:.4f}  (saved)")
    except KeyboardInterrupt:
        _save(model_dir, net, optimizer, steps, len(images))
        say(f"interrupted: saved the mask model at step {steps}")
        raise
    _save(model_dir, net, optimizer, steps, len(images))
    return TeachReport(len(images), steps - start_steps, steps, loss_value, model_dir / MODEL_NAME)


def user_segmenter(model_dir: Path) -> Segmenter:
    if not (model_dir / MODEL_NAME).is_file():
        raise UserError(f"no mask model in {model_dir}: run `faceweave mask train` first")
    net, _, _ = _load(model_dir)
    net.eval()
    return Segmenter(net)


def apply_masks(faceset: Path, model_dir: Path, batch: int = 32) -> tuple[int, int]:
    """Write `_masks/` for every face of `faceset`: the labels where a face has them, the taught
    model's answer elsewhere. Returns (faces from labels, faces from the model)."""
    from faceweave.formats.aligned import read_face_meta

    segmenter = user_segmenter(model_dir)
    files = list_face_files(faceset)
    if not files:
        raise UserError(f"{faceset} holds no aligned faces")
    from_labels = from_model = 0
    pending: list[tuple[Path, npt.NDArray[np.uint8], int]] = []

    def flush() -> None:
        if not pending:
            return
        for (path, _, size), occlusion in zip(
            pending, segmenter.occlusion([p[1] for p in pending]), strict=True
        ):
            write_mask(path, visible(occlusion, size))
        pending.clear()

    for path in files:
        meta = read_face_meta(path)
        if meta.labels:
            write_mask(path, label_mask(meta.labels, meta.size_px, meta.size_px))
            from_labels += 1
            continue
        pending.append((path, read_aligned_face(path)[0], meta.size_px))
        from_model += 1
        if len(pending) >= batch:
            flush()
    flush()
    return from_labels, from_model
