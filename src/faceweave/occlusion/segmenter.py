"""A small U-Net that finds occluders (hands, bars, glasses frames, microphones, hair, overlays) in
an aligned face crop: the probability, per pixel, that something hides the face there.

Trained by `tools/train_occluder.py` on the repository's synthetic portraits with procedural
occluders (occlusion/synth.py) and shipped as `assets/occluder.safetensors` (no download, no
pickle). It sees a `full` face crop at INPUT_PX and answers at that size; callers resize.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file
from torch import nn

from faceweave.errors import UserError

INPUT_PX = 96
WIDTHS = (8, 16, 32, 48)
Crops = npt.NDArray[np.uint8] | list[npt.NDArray[np.uint8]]
ASSET = Path(__file__).resolve().parent.parent / "assets" / "occluder.safetensors"


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )  # fmt: skip


class OccluderNet(nn.Module):
    """Four levels down, three up with skips; logits of "occluded" at the input's size."""

    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        cin = 3
        for width in widths:
            self.down.append(_block(cin, width))
            cin = width
        self.up = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(_block(cin + width, width))
            cin = width
        self.head = nn.Conv2d(cin, 1, 1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        skips = []
        x = rgb
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        logits: torch.Tensor = self.head(x)
        return logits


def to_input(crops: Crops) -> torch.Tensor:
    """BGR uint8 crops of any size -> (N, 3, INPUT_PX, INPUT_PX) RGB floats in [0, 1]."""
    small = np.stack([cv2.resize(c, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA) for c in crops])
    return torch.from_numpy(np.ascontiguousarray(small[..., ::-1])).permute(0, 3, 1, 2).float() / 255


@dataclass
class Segmenter:
    net: OccluderNet

    @torch.inference_mode()
    def occlusion(self, crops: Crops) -> npt.NDArray[np.float32]:
        """(N, INPUT_PX, INPUT_PX) probability that an occluder covers each pixel."""
        if len(crops) == 0:
            return np.zeros((0, INPUT_PX, INPUT_PX), np.float32)
        return torch.sigmoid(self.net(to_input(crops)))[:, 0].numpy().astype(np.float32)


# Probabilities between these fade from visible to hidden, so a mask edge is soft.
EDGE = (0.35, 0.65)


def visible(occlusion: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """1 where nothing covers the face, from an occlusion probability map, at `size` px."""
    hidden = np.clip((occlusion - EDGE[0]) / (EDGE[1] - EDGE[0]), 0, 1)
    return np.asarray(cv2.resize(1 - hidden, (size, size), interpolation=cv2.INTER_LINEAR), np.float32)


def load_segmenter(path: Path = ASSET) -> Segmenter:
    """The shipped (or a given) occluder segmenter; a missing or damaged file is one sentence."""
    try:
        weights = load_file(str(path))
    except FileNotFoundError as exc:
        raise UserError(f"the occluder model {path} is missing; reinstall faceweave") from exc
    except Exception as exc:
        raise UserError(f"the occluder model {path} is damaged ({type(exc).__name__})") from exc
    described = path.with_suffix(".json")
    info = json.loads(described.read_text(encoding="utf-8")) if described.is_file() else {}
    net = OccluderNet(tuple(info.get("widths", WIDTHS)))
    missing, unexpected = net.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise UserError(f"the occluder model {path} does not match this faceweave's segmenter")
    net.eval()
    return Segmenter(net)


@lru_cache(maxsize=1)
def shipped_segmenter() -> Segmenter:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    return load_segmenter()
