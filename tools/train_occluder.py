"""Train the occluder segmenter shipped as src/faceweave/assets/occluder.safetensors.

Reproducible from the repository alone: the faces are tools/faces/ (synthetic portraits, MIT), the
occluders are drawn by faceweave.occlusion.synth, every random choice comes from --seed. Four
portraits are held out and scored at the end (IoU of "occluded" at 0.5, per occluder kind); the
scores go into assets/occluder.json beside the weights.

    python tools/train_occluder.py --minutes 12        # about 12 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import save_file

from faceweave.extract.transform import frame_to_face
from faceweave.occlusion.segmenter import ASSET, INPUT_PX, WIDTHS, OccluderNet
from faceweave.occlusion.synth import KINDS, composite, degrade, random_occluder
from faceweave.pseudovideo import Expression, FacePuppet
from faceweave.records import as_image

FACES = Path(__file__).resolve().parent / "faces"
HELD_OUT = (
    "SFHQ_pt1_00000161.jpg",
    "SFHQ_pt2_00000916.jpg",
    "SFHQ_pt1_00002921.jpg",
    "SFHQ_pt2_00001264.jpg",
)
CROP = 128  # crops are cut larger and resized to INPUT_PX when batched, as at inference


def aligned_variants(path: Path, rng: np.random.Generator, count: int) -> list[npt.NDArray[np.float32]]:
    """`count` aligned full-face crops of one portrait: random expressions, small pose and scale jitter."""
    puppet = FacePuppet.from_image(as_image(cv2.imread(str(path), cv2.IMREAD_COLOR)))
    crops = []
    for _ in range(count):
        expression = Expression(*rng.uniform(0, 1, 4) * np.array([0.8, 1.0, 0.8, 0.8]))
        rendered = puppet.render(expression)
        marks = puppet.landmarks_for(expression)
        matrix = frame_to_face(np.column_stack([marks, np.zeros(len(marks))]), "full", CROP)
        angle, scale = rng.normal(0, 6), math.exp(rng.normal(0, 0.06))
        jitter = np.asarray(cv2.getRotationMatrix2D((CROP / 2, CROP / 2), angle, scale), np.float64)
        jitter[:, 2] += rng.normal(0, CROP * 0.03, 2)
        full = np.vstack([matrix, [0, 0, 1]])
        crop = cv2.warpAffine(rendered, (np.vstack([jitter, [0, 0, 1]]) @ full)[:2], (CROP, CROP),
                              flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        crops.append(crop.astype(np.float32) / 255)
    return crops


Pair = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


def sample(faces: list[npt.NDArray[np.float32]], rng: np.random.Generator) -> Pair:
    face = faces[int(rng.integers(len(faces)))]
    if rng.random() < 0.5:
        face = face[:, ::-1]
    face = np.clip(face * rng.uniform(0.7, 1.25, 3).astype(np.float32) + rng.normal(0, 0.04), 0, 1)
    alpha = np.zeros((CROP, CROP), np.float32)
    image = face.astype(np.float32)
    for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
        occluder = random_occluder(rng, CROP)
        image = composite(image, occluder)
        alpha = np.maximum(alpha, occluder.alpha)
    return degrade(image, rng), alpha


def batch(
    faces: list[npt.NDArray[np.float32]], rng: np.random.Generator, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    images, alphas = zip(*(sample(faces, rng) for _ in range(size)), strict=True)
    x = np.stack([cv2.resize(i, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA) for i in images])
    y = np.stack([cv2.resize(a, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA) for a in alphas])
    return torch.from_numpy(np.ascontiguousarray(x[..., ::-1])).permute(0, 3, 1, 2), torch.from_numpy(y)[
        :, None
    ]


def loss_of(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    hard = (target >= 0.5).float()
    dice = 1 - (2 * (p * hard).sum() + 1) / (p.sum() + hard.sum() + 1)
    return bce + 0.5 * dice


def evaluate(net: OccluderNet, faces: list[npt.NDArray[np.float32]], seed: int) -> dict[str, float]:
    """IoU of "occluded" (alpha >= 0.5) on held-out faces, per occluder kind, 64 samples each."""
    net.eval()
    scores: dict[str, float] = {}
    with torch.inference_mode():
        for k, kind in enumerate(KINDS):
            rng = np.random.default_rng([seed, 1000 + k])
            inter = union = 0.0
            for _ in range(64):
                face = faces[int(rng.integers(len(faces)))]
                occluder = KINDS[kind](rng, CROP)
                image = degrade(composite(face, occluder), rng)
                x = cv2.resize(image, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA)[None]
                truth = cv2.resize(occluder.alpha, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA) >= 0.5
                tensor = torch.from_numpy(np.ascontiguousarray(x[..., ::-1])).permute(0, 3, 1, 2)
                found = torch.sigmoid(net(tensor))[0, 0].numpy() >= 0.5
                inter += float((found & truth).sum())
                union += float((found | truth).sum())
            scores[kind] = round(inter / max(union, 1.0), 3)
        clean = 0.0
        rng = np.random.default_rng([seed, 999])
        for face in faces:
            x = cv2.resize(degrade(face, rng), (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA)[None]
            tensor = torch.from_numpy(np.ascontiguousarray(x[..., ::-1])).permute(0, 3, 1, 2)
            clean += float((torch.sigmoid(net(tensor)) >= 0.5).float().mean())
        scores["false_alarm_on_clean_faces"] = round(clean / len(faces), 4)
    net.train()
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--variants", type=int, default=24, help="aligned crops per portrait")
    parser.add_argument("--out", type=Path, default=ASSET)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    paths = sorted(FACES.glob("*.jpg"))
    train_faces: list[npt.NDArray[np.float32]] = []
    held_faces: list[npt.NDArray[np.float32]] = []
    for path in paths:
        (held_faces if path.name in HELD_OUT else train_faces).extend(
            aligned_variants(path, rng, args.variants)
        )
    print(f"{len(train_faces)} training crops from {len(paths) - len(HELD_OUT)} portraits, "
          f"{len(held_faces)} held out")  # fmt: skip
    net = OccluderNet(WIDTHS)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    start, step = time.monotonic(), 0
    deadline = start + args.minutes * 60
    while time.monotonic() < deadline:
        x, y = batch(train_faces, rng, args.batch)
        fraction = (time.monotonic() - start) / (deadline - start)
        for group in optimizer.param_groups:
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))  # cosine to zero
        loss = loss_of(net(x), y)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        step += 1
        if step % 100 == 0:
            print(
                f"step {step}  loss {float(loss):.4f}  {step / (time.monotonic() - start):.1f} steps/s",
                flush=True,
            )
    scores = evaluate(net, held_faces, args.seed)
    print("held-out IoU:", scores)
    weights = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    save_file(weights, str(args.out))
    info = {"widths": list(WIDTHS), "input_px": INPUT_PX, "steps": step, "batch": args.batch,
            "seed": args.seed, "minutes": args.minutes, "held_out_portraits": list(HELD_OUT),
            "held_out_iou": scores}  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
