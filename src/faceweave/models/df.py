"""`df`: the classic deepfakes / DeepFaceLab DF design.

One encoder and one bottleneck (inter) learn a code shared by both people; each side has its own
decoder. Swapping decodes a dst face's code with the src decoder.
"""

from __future__ import annotations

import torch

from faceweave.models.blocks import Decoder, encoder_for, inter_for
from faceweave.models.registry import FaceSwapModel, ModelConfig, Side
from faceweave.registries import MODELS


class DF(FaceSwapModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder_for(config)
        self.inter = inter_for(config)
        widths = (config.bottleneck_dims, config.decoder_dims, config.mask_dims, config.double_res)
        self.decoder_src = Decoder(*widths)
        self.decoder_dst = Decoder(*widths)

    def reconstruct(self, faces: torch.Tensor, side: Side) -> tuple[torch.Tensor, torch.Tensor]:
        decoder = self.decoder_src if side == "src" else self.decoder_dst
        rgb, mask = decoder(self.inter(self.encoder(faces)))
        return rgb, mask

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, mask = self.decoder_src(self.inter(self.encoder(dst_faces)))
        return rgb, mask


@MODELS.register("df", "one decoder per side (DeepFaceLab's DF): the strongest likeness of src", rank=0)
def build(config: ModelConfig) -> FaceSwapModel:
    return DF(config)
