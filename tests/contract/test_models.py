"""Every registered model passes the same contract: shapes, mask range, finite output, gradients."""

from __future__ import annotations

import pytest
import torch

from faceweave.models import ModelConfig, build_model, registered_models
from faceweave.plugins import PluginError

VARIANTS = {"plain": {}, "u": {"pixel_norm": True}, "d": {"double_res": True},
            "ud": {"pixel_norm": True, "double_res": True}}  # fmt: skip


@pytest.mark.parametrize("arch", registered_models())
@pytest.mark.parametrize("resolution", [64, 96])
@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_model_contract(arch: str, resolution: int, variant: dict[str, bool]) -> None:
    if variant.get("double_res") and resolution % 32:
        pytest.skip("double_res needs a multiple of 32")
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch, resolution, encoder_dims=8, bottleneck_dims=32, decoder_dims=8,
                                    mask_dims=4, **variant))  # fmt: skip
    faces = torch.rand(2, 3, resolution, resolution)
    outputs = [model.reconstruct(faces, "src"), model.reconstruct(faces, "dst"), model.swap(faces)]
    for rgb, mask in outputs:
        assert rgb.shape == (2, 3, resolution, resolution) and mask.shape == (2, 1, resolution, resolution)
        assert torch.isfinite(rgb).all() and torch.isfinite(mask).all()
        assert rgb.min() >= 0 and rgb.max() <= 1 and mask.min() >= 0 and mask.max() <= 1
    loss = sum(rgb.mean() + mask.mean() for rgb, mask in outputs)
    loss.backward()  # type: ignore[union-attr]
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.config.arch == arch


def test_config_rejects_bad_resolution() -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        ModelConfig(resolution=100)
    with pytest.raises(ValueError, match="multiple of 32"):
        ModelConfig(resolution=80, double_res=True)
    with pytest.raises(PluginError, match="unknown model 'nope'; known: df, liae"):
        build_model(ModelConfig(arch="nope"))
