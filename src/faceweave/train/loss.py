"""Masked DSSIM + MSE on the face, extra weight on eyes and mouth, plus a mask loss."""

from __future__ import annotations

import torch
from pytorch_msssim import ms_ssim, ssim


def dssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(1 - SSIM) / 2; multi-scale SSIM from 256 px up, where single-scale misses coarse structure."""
    if pred.shape[-1] >= 256:
        similarity: torch.Tensor = ms_ssim(pred, target, data_range=1.0, size_average=True)
    else:
        similarity = ssim(pred, target, data_range=1.0, size_average=True, win_size=11)
    return (1 - similarity) / 2


def face_loss(pred_rgb: torch.Tensor, pred_mask: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
              weights: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """10 * DSSIM of the masked face + 10 * weighted MSE + mask MSE; parts returned for logging."""
    pred_rgb, pred_mask = pred_rgb.float(), pred_mask.float()
    structure = dssim(pred_rgb * mask, target * mask)
    pixels = (weights * (pred_rgb - target) ** 2).sum() / (weights.sum() * 3 + 1e-6)
    mask_error = torch.mean((pred_mask - mask) ** 2)
    total = 10 * structure + 10 * pixels + mask_error
    parts = {
        "dssim": float(structure.detach()),
        "mse": float(pixels.detach()),
        "mask": float(mask_error.detach()),
    }
    return total, parts
