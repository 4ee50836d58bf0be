"""The model contract; the architectures register in `MODELS` (faceweave.registries).

A model reconstructs each side from the shared code (training) and renders dst faces with src's
identity (swapping). Every decoder returns RGB in [0, 1] and a one-channel mask in [0, 1].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from faceweave.registries import MODELS

Side = Literal["src", "dst"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild an architecture exactly; saved as config.json with the weights."""

    arch: str = "df"
    resolution: int = 64
    encoder_dims: int = 32
    bottleneck_dims: int = 256
    decoder_dims: int = 16
    mask_dims: int = 8
    pixel_norm: bool = False  # DeepFaceLab's -u: the encoder's code scaled to unit RMS
    double_res: bool = False  # DeepFaceLab's -d: decoders work at half size, a last pixel shuffle doubles

    def __post_init__(self) -> None:
        if self.resolution % 16 or not 64 <= self.resolution <= 512:
            raise ValueError(f"resolution must be a multiple of 16 from 64 to 512, got {self.resolution}")
        if self.double_res and self.resolution % 32:
            raise ValueError(f"double_res needs a resolution that is a multiple of 32, got {self.resolution}")

    @property
    def encoder_features(self) -> int:
        """Length of the encoder's flattened output: 8 x encoder_dims channels at resolution / 16."""
        return self.encoder_dims * 8 * (self.resolution // 16) ** 2

    @property
    def dense_side(self) -> int:
        """Side of the grid the bottleneck expands to (before its one upscale)."""
        return self.resolution // (32 if self.double_res else 16)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


class FaceSwapModel(nn.Module):
    """What training and merging rely on."""

    config: ModelConfig

    def reconstruct(self, faces: torch.Tensor, side: Side) -> tuple[torch.Tensor, torch.Tensor]:
        """(rgb, mask) of `faces` (N, 3, R, R) decoded as their own side."""
        raise NotImplementedError

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rgb, mask) of dst faces rendered with src's identity."""
        raise NotImplementedError

    def forward(
        self, src_faces: torch.Tensor, dst_faces: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Both reconstructions of a training step; a forward() so DistributedDataParallel syncs it."""
        return self.reconstruct(src_faces, "src"), self.reconstruct(dst_faces, "dst")


def registered_models() -> list[str]:
    return list(MODELS.names())


def build_model(config: ModelConfig) -> FaceSwapModel:
    factory = MODELS.get(config.arch)
    return cast(FaceSwapModel, factory(config))


def to_tensor(images: npt.NDArray[np.uint8]) -> torch.Tensor:
    """(N, H, W, 3) BGR uint8 -> (N, 3, H, W) RGB float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images[..., ::-1])).permute(0, 3, 1, 2).float() / 255.0
