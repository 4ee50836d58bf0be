"""Reconstruction quality after equal steps: faceswap's way (fp32, plain AdamW) against faceweave's
(bf16 autocast, fused AdamW) on faceswap's `original` layer spec, so a speed-up is not bought with
quality. Both runs start from the same weights and see the same warped batches of a real workspace;
quality is SSIM and PSNR of unwarped reconstructions inside the face hull, both sides, all faces.
Usage: python benchmarks/equal_steps.py WORKSPACE [--steps 400] [--device cpu|cuda] [--batch 16]
       [--seeds 0,1] [--workers 8]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import time
from pathlib import Path

import torch
from pytorch_msssim import ssim

from faceweave.models import FaceSwapModel, to_tensor
from faceweave.models.registry import Side
from faceweave.train.data import Faceset, load_faceset
from faceweave.train.loss import face_loss
from faceweave.train.stream import StreamSettings, batch_loader
from faceweave.workspace import Workspace
from train import FaceswapOriginal


def both_facesets(ws: Workspace, resolution: int = 64) -> dict[Side, Faceset]:
    return {"src": load_faceset(ws.src_aligned, resolution), "dst": load_faceset(ws.dst_aligned, resolution)}


def evaluate(model: FaceSwapModel, sets: dict[Side, Faceset], device: torch.device) -> tuple[float, float]:
    scores, psnrs = [], []
    model.eval()
    with torch.no_grad():
        for side, faceset in sets.items():
            faces = to_tensor(faceset.faces).to(device)
            masks = torch.from_numpy(faceset.masks)[:, None].to(device)
            out = torch.cat([model.reconstruct(chunk, side)[0].float() for chunk in torch.split(faces, 64)])
            scores.append(float(ssim(out * masks, faces * masks, data_range=1.0)))
            mse = ((out - faces) ** 2 * masks).sum() / (masks.sum() * 3)
            psnrs.append(float(10 * torch.log10(1 / mse)))
    model.train()
    return sum(scores) / len(scores), sum(psnrs) / len(psnrs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; each runs both ways")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers making batches")
    args = parser.parse_args()
    device = torch.device(args.device)
    ws = Workspace(Path(args.workspace))
    sets = both_facesets(ws)
    print(f"{len(sets['src'].faces)} src + {len(sets['dst'].faces)} dst faces, {args.steps} steps, "
          f"batch {args.batch}, {device}")  # fmt: skip
    for seed in (int(s) for s in args.seeds.split(",")):
        run_seed(seed, sets, args.batch, args.steps, args.workers, device)


def run_seed(seed: int, sets: dict[Side, Faceset], batch_size: int, steps: int, workers: int,
             device: torch.device) -> None:  # fmt: skip
    """Both ways from the same weights on the same batches; another seed changes both, which shows
    how much results move for reasons that have nothing to do with precision."""
    settings = StreamSettings(batch_size, seed=seed, warp=True, uniform_yaw=True, eyes_mouth_weight=3.0)
    torch.manual_seed(seed)
    start_model = FaceswapOriginal()
    for name, bf16, fused in (("faceswap way: fp32, AdamW", False, False),
                              ("faceweave: bf16, fused AdamW", True, True)):  # fmt: skip
        model = copy.deepcopy(start_model).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=fused)
        batches = batch_loader(sets["src"], sets["dst"], settings, 0, workers, device.type == "cuda")
        start = time.perf_counter()
        for _ in range(steps):
            src, dst = next(batches)
            autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            loss = torch.zeros((), device=device)
            for side, batch in (("src", src), ("dst", dst)):
                with autocast:
                    rgb, mask = model.reconstruct(batch.inputs.to(device), side)
                target, hull, weights = (t.to(device) for t in (batch.targets, batch.masks, batch.weights))
                loss = loss + face_loss(rgb, mask, target, hull, weights)[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        seconds = time.perf_counter() - start
        score, psnr = evaluate(model, sets, device)
        print(f"seed {seed} {name:30s}: SSIM {score:.4f}, PSNR {psnr:.2f} dB in the face, {seconds:.0f} s "
              f"({2 * batch_size * steps / seconds:.1f} faces/s incl. data)")  # fmt: skip


if __name__ == "__main__":
    main()
