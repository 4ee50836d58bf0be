"""Building blocks shared by the architectures (DeepFaceLab's, rewritten in PyTorch)."""

from __future__ import annotations

import torch
from torch import nn

from faceweave.models.registry import ModelConfig


class Down(nn.Sequential):
    """Halve the resolution: conv 5x5 stride 2, LeakyReLU 0.1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 5, stride=2, padding=2), nn.LeakyReLU(0.1))


class Up(nn.Sequential):
    """Double the resolution: conv 3x3 to 4x channels, LeakyReLU 0.1, pixel shuffle."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.LeakyReLU(0.1), nn.PixelShuffle(2))


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(x + self.conv2(self.act(self.conv1(x))))
        return out


class Encoder(nn.Module):
    """Four halvings: R -> R/16, widths d, 2d, 4d, 8d; flattened, and with `pixel_norm` scaled to
    unit root-mean-square (DeepFaceLab's -u)."""

    def __init__(self, dims: int, pixel_norm: bool = False) -> None:
        super().__init__()
        self.pixel_norm = pixel_norm
        self.layers = nn.Sequential(
            Down(3, dims), Down(dims, dims * 2), Down(dims * 2, dims * 4), Down(dims * 4, dims * 8)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = torch.flatten(self.layers(x), 1)
        if self.pixel_norm:
            code = code * torch.rsqrt(code.square().mean(dim=1, keepdim=True) + 1e-6)
        return code


class Inter(nn.Module):
    """Bottleneck: dense to `code` dims, dense back to a (side x side) grid, one upscale."""

    def __init__(self, in_features: int, code: int, side: int, out_channels: int) -> None:
        super().__init__()
        self.side, self.out_channels = side, out_channels
        self.dense1 = nn.Linear(in_features, code)
        self.dense2 = nn.Linear(code, side * side * out_channels)
        self.up = Up(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dense2(self.dense1(x)).view(-1, self.out_channels, self.side, self.side)
        out: torch.Tensor = self.up(x)
        return out


def _out(cin: int, channels: int, double_res: bool) -> nn.Module:
    """The 1x1 output conv; with `double_res` it makes 4x the channels and a pixel shuffle turns
    them into twice the resolution (DeepFaceLab's -d), so the decoder itself runs at half size."""
    if double_res:
        return nn.Sequential(nn.Conv2d(cin, channels * 4, 1), nn.PixelShuffle(2))
    return nn.Conv2d(cin, channels, 1)


def encoder_for(config: ModelConfig) -> Encoder:
    return Encoder(config.encoder_dims, config.pixel_norm)


def inter_for(config: ModelConfig) -> Inter:
    return Inter(config.encoder_features, config.bottleneck_dims, config.dense_side, config.bottleneck_dims)


class Decoder(nn.Module):
    """Three upscales with residual blocks to the face, and a thinner path to the mask."""

    def __init__(self, cin: int, dims: int, mask_dims: int, double_res: bool = False) -> None:
        super().__init__()
        self.rgb = nn.Sequential(
            Up(cin, dims * 8),
            Residual(dims * 8),
            Up(dims * 8, dims * 4),
            Residual(dims * 4),
            Up(dims * 4, dims * 2),
            Residual(dims * 2),
        )
        self.rgb_out = _out(dims * 2, 3, double_res)
        self.mask = nn.Sequential(
            Up(cin, mask_dims * 8), Up(mask_dims * 8, mask_dims * 4), Up(mask_dims * 4, mask_dims * 2)
        )
        self.mask_out = _out(mask_dims * 2, 1, double_res)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.sigmoid(self.rgb_out(self.rgb(z))), torch.sigmoid(self.mask_out(self.mask(z)))
