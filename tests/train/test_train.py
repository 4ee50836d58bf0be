"""Training: it learns, it resumes exactly, and it never loses or silently replaces a model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from faceweave.cli.main import cli
from faceweave.errors import UserError
from faceweave.formats.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from faceweave.models import to_tensor
from faceweave.train.data import Batch, Faceset, load_faceset
from faceweave.train.optim import dropped_step
from faceweave.train.run import run_train, warp_phases
from faceweave.train.stream import StreamSettings, batch_for
from faceweave.workspace import Workspace
from tests.train.conftest import fresh_workspace, tiny_config


def losses(ws: Workspace) -> list[float]:
    rows = [json.loads(line) for line in (ws.model / "train_log.jsonl").read_text().splitlines()]
    return [r["loss_src"] + r["loss_dst"] for r in rows if "iteration" in r]


def test_a_tiny_model_learns_its_faces(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    report = run_train(tiny_config(iterations=300, warp=False), ws)
    history = losses(ws)
    assert report.iteration == 300 and len(history) == 300
    assert sum(history[-20:]) / 20 < 0.5 * sum(history[:5]) / 5  # loss falls by at least half
    assert (ws.model / "preview.png").is_file() and (ws.model / "loss.png").is_file()


# A run to 3 steps ends on clean inputs (train.warp_until), so "to 3, then to 6" is a different
# run from "to 6" unless the warp lasts to the end; an interruption is tested below.
@pytest.mark.parametrize(
    "extra",
    [{"warp_until": 1.0}, {"lr_dropout": 0.5, "color_transfer": "rct", "warp_until": 1.0}],
    ids=["plain", "dropout-rct"],
)
def test_resume_continues_exactly(facesets: Workspace, tmp_path: Path, extra: dict[str, object]) -> None:
    straight = fresh_workspace(facesets, tmp_path / "straight")
    run_train(tiny_config(iterations=6, **extra), straight)
    split = fresh_workspace(facesets, tmp_path / "split")
    run_train(tiny_config(iterations=3, **extra), split)
    report = run_train(tiny_config(iterations=6, **extra), split)
    assert report.resumed and report.iteration == 6 and report.steps_this_run == 3
    a, b = load_checkpoint(straight.model), load_checkpoint(split.model)
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert a.optimizer_state["state"][0]["step"] == b.optimizer_state["state"][0]["step"]


def test_an_interrupted_run_resumes_exactly_across_the_warp_switch(
    facesets: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faceweave.train.loop as loop_module
    from faceweave.train.loss import face_loss

    straight = fresh_workspace(facesets, tmp_path / "straight")
    said: list[str] = []
    eight = tiny_config(iterations=8, warp_until=0.75)  # warped to step 6, then clean
    run_train(eight, straight, say=said.append)
    assert "random warp off from iteration 6: clean inputs to the end" in said
    calls = {"n": 0}

    def ctrl_c_at_step_4(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return face_loss(*args, **kwargs)

    split = fresh_workspace(facesets, tmp_path / "split")
    monkeypatch.setattr(loop_module, "face_loss", ctrl_c_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        run_train(eight, split)
    monkeypatch.undo()
    report = run_train(eight, split)
    assert report.resumed and report.steps_this_run == 5
    a, b = load_checkpoint(straight.model), load_checkpoint(split.model)
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


@pytest.mark.parametrize(
    ("warp", "until", "stop", "deadline", "expected"),
    [
        (True, 0.75, 100, 0.0, [(True, 75, 0.0), (False, 100, 0.0)]),
        (True, 0.75, 0, 1060.0, [(True, 0, 1045.0), (False, 0, 1060.0)]),  # started at 1000
        (True, 0.75, 0, 0.0, [(True, 0, 0.0)]),  # no end known: warp throughout
        (True, 1.0, 100, 0.0, [(True, 100, 0.0)]),
        (False, 0.75, 100, 0.0, [(False, 100, 0.0)]),
    ],
)
def test_warp_phases(warp: bool, until: float, stop: int, deadline: float,
                     expected: list[tuple[bool, int, float]]) -> None:  # fmt: skip
    cfg = tiny_config(warp=warp, warp_until=until).train
    phases = warp_phases(cfg, stop, deadline, start=1000.0)
    assert [(p.warp, p.stop_iteration, p.deadline) for p in phases] == expected


def test_an_interrupted_save_leaves_the_previous_checkpoint(
    facesets: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run_train(tiny_config(iterations=2), ws)
    before = list_checkpoints(ws.model)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as if Ctrl-C arrived while the optimizer state was written

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        run_train(tiny_config(iterations=4), ws)
    monkeypatch.undo()
    assert list_checkpoints(ws.model) == before
    assert not [p for p in ws.model.iterdir() if ".partial" in p.name]
    assert load_checkpoint(ws.model).state.iteration == 2


def test_a_truncated_checkpoint_is_a_clear_error_naming_a_good_backup(
    facesets: Workspace, tmp_path: Path
) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run_train(tiny_config(iterations=3), ws)
    newest = list_checkpoints(ws.model)[-1]
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(
        CheckpointError, match=r"model.safetensors is damaged.*newest good backup is .*ckpt-000000000"
    ):
        run_train(tiny_config(iterations=5), ws)
    assert weights.stat().st_size > 0  # nothing was overwritten by a fresh model
    report = run_train(tiny_config(iterations=5), ws, resume_from=list_checkpoints(ws.model)[0])
    assert report.iteration == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("iteration", "abc"), ("iteration", -3), ("elapsed_s", 1e999), ("learning_rate", None), ("seed", True),
     ("face_type", "x" * 10_000), ("nan_recoveries", 2.5)],
)  # fmt: skip
def test_a_state_json_with_wrong_values_is_a_damaged_checkpoint(
    facesets: Workspace, tmp_path: Path, field: str, value: object
) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run_train(tiny_config(iterations=2), ws)
    state = list_checkpoints(ws.model)[-1] / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), field: value}))
    with pytest.raises(CheckpointError, match=rf"state.json: '{field}' must be .*newest good backup"):
        run_train(tiny_config(iterations=4), ws)
    result = CliRunner().invoke(cli, ["merge", "-w", str(ws.root)])
    assert result.exit_code == 2 and f"'{field}' must be" in result.output, result.output


def test_changed_architecture_is_refused_not_replaced(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run_train(tiny_config(iterations=1), ws)
    with pytest.raises(UserError, match="set \\[train\\] back"):
        run_train(tiny_config(iterations=2, arch="liae"), ws)


def test_cli_train_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tmp_path / "ws"
    assert runner.invoke(cli, ["init", str(ws)]).exit_code == 0
    result = runner.invoke(cli, ["train", "-w", str(ws), "--iterations", "1"])
    assert result.exit_code == 2 and "run `faceweave extract` first" in result.output
    result = runner.invoke(cli, ["train", "-w", str(ws)])
    assert result.exit_code == 2 and "--iterations or --time" in result.output
    result = runner.invoke(cli, ["train", "-w", str(ws), "--time", "soon"])
    assert result.exit_code == 2 and "not a duration" in result.output


def test_a_collapse_restores_the_last_checkpoint_and_lowers_the_rate(
    facesets: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faceweave.train.loop as loop_module
    from faceweave.train.loss import face_loss

    ws = fresh_workspace(facesets, tmp_path / "ws")
    real = face_loss
    calls = {"n": 0}

    def sometimes_nan(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        total, parts = real(*args, **kwargs)
        return (total * float("nan"), parts) if calls["n"] == 7 else (total, parts)  # step 4, src side

    monkeypatch.setattr(loop_module, "face_loss", sometimes_nan)
    said: list[str] = []
    report = run_train(tiny_config(iterations=6), ws, say=said.append)
    assert report.iteration == 6
    assert any("non-finite" in line and "halved the learning rate to 5.00e-04" in line for line in said)
    loaded = load_checkpoint(ws.model)
    assert loaded.state.nan_recoveries == 1 and loaded.state.learning_rate == pytest.approx(5e-4)


def test_ddp_with_two_cpu_processes_runs_two_steps(facesets: Workspace, tmp_path: Path) -> None:
    """`torchrun --nproc_per_node 2` on CPU: the gloo backend, each rank its own batches, rank 0 saves."""
    import subprocess
    import sys

    ws = fresh_workspace(facesets, tmp_path / "ws")
    keys = (
        "encoder_dims",
        "bottleneck_dims",
        "decoder_dims",
        "mask_dims",
        "batch_size",
        "loader_workers",
        "preview_every",
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "faceweave",
        "train",
        "-w",
        str(ws.root),
        "--iterations",
        "2",
        "--device",
        "cpu",
        "--set",
        "train.precision='fp32'",
    ]
    for key in keys:
        command += ["--set", f"train.{key}={getattr(tiny_config().train, key)}"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-6000:]
    loaded = load_checkpoint(ws.model)
    assert loaded.state.iteration == 2
    assert proc.stderr.count("preview:") == 1


def test_lr_dropout_keeps_the_chosen_fraction_of_updates() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 64)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-2, fused=True)
    before = layer.weight.detach().clone()
    layer(torch.randn(8, 64)).square().sum().backward()
    dropped_step(optimizer, 0.7, seed=1, iteration=0)
    moved = (layer.weight != before).float().mean().item()
    assert 0.25 < moved < 0.35  # about 30% of the weights took their update


def test_color_transfer_moves_src_samples_toward_dst_colours(facesets: Workspace) -> None:
    src, dst = load_faceset(facesets.src_aligned, 64), load_faceset(facesets.dst_aligned, 64)
    tinted = Faceset(np.clip(src.faces.astype(np.int16) + np.array([60, 0, -60]), 0, 255).astype(np.uint8),
                     src.masks, src.features, src.yaw)  # fmt: skip
    settings = StreamSettings(8, seed=0, warp=False, uniform_yaw=False, eyes_mouth_weight=1.0)

    def gap(batch: Batch) -> float:
        inside = batch.masks.expand_as(batch.targets) > 0.5
        mean = batch.targets.permute(1, 0, 2, 3)[inside.permute(1, 0, 2, 3)].view(3, -1).mean(1)
        want = to_tensor(dst.faces).permute(1, 0, 2, 3)
        want_mask = torch.from_numpy(dst.masks)[:, None].expand_as(to_tensor(dst.faces)) > 0.5
        return float((mean - want[want_mask.permute(1, 0, 2, 3)].view(3, -1).mean(1)).abs().max())

    plain = batch_for(0, tinted, dst, settings)[0]
    recoloured = batch_for(0, tinted, dst, replace(settings, color_transfer="rct"))[0]
    assert gap(recoloured) < 0.04 < 0.15 < gap(plain)
