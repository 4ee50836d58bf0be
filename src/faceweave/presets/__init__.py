"""Presets are data: each TOML file here overrides some options of faceweave.toml."""

from __future__ import annotations


def device_preset() -> str:
    """The preset that suits this machine when none is named: hd with a CUDA GPU, else quick.

    The options' own defaults are a neutral middle that suits neither a laptop CPU (half the
    speed of quick, and worse after the same minutes) nor a GPU.
    """
    import torch

    return "hd" if torch.cuda.is_available() else "quick"
