"""`liae`: DeepFaceLab's LIAE.

One encoder, two bottlenecks and one shared decoder. inter_AB sees both sides, inter_B only dst.
A dst face is coded as [inter_AB, inter_B] and a src face as [inter_AB, inter_AB]. Swapping gives
a dst face the src-style code [inter_AB, inter_AB], so pose and light come through the shared path.
"""

from __future__ import annotations

import torch

from faceweave.models.blocks import Decoder, encoder_for, inter_for
from faceweave.models.registry import FaceSwapModel, ModelConfig, Side
from faceweave.registries import MODELS


class LIAE(FaceSwapModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder_for(config)
        self.inter_ab = inter_for(config)
        self.inter_b = inter_for(config)
        self.decoder = Decoder(
            config.bottleneck_dims * 2, config.decoder_dims, config.mask_dims, config.double_res
        )

    def reconstruct(self, faces: torch.Tensor, side: Side) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(faces)
        ab = self.inter_ab(code)
        other = self.inter_b(code) if side == "dst" else ab
        rgb, mask = self.decoder(torch.cat([ab, other], dim=1))
        return rgb, mask

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ab = self.inter_ab(self.encoder(dst_faces))
        rgb, mask = self.decoder(torch.cat([ab, ab], dim=1))
        return rgb, mask


@MODELS.register(
    "liae",
    "a shared decoder and two intermediate codes (DeepFaceLab's LIAE): carries dst's light and pose",
    rank=1,
)
def build(config: ModelConfig) -> FaceSwapModel:
    return LIAE(config)
