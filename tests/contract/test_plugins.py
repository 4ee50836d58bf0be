"""Every registered plugin of each kind keeps its contract; a new one is one file and needs no other edit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from faceweave.assets import load_sample_face
from faceweave.color import transfer
from faceweave.detectors import open_detector
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import FaceMeta, list_face_files, read_aligned_face, write_aligned_face
from faceweave.merge.mask_sources import MaskInputs, open_sources
from faceweave.occlusion.labels import write_mask
from faceweave.records import ImageBGR
from faceweave.registries import BLENDS, COLORS, DETECTORS, MASKS
from faceweave.workspace import Workspace

RNG = np.random.default_rng(0)
FACE = RNG.uniform(0.1, 0.9, (64, 64, 3)).astype(np.float32)
DST = RNG.uniform(0.3, 0.7, (64, 64, 3)).astype(np.float32)  # unrelated to FACE, pixel by pixel
MASK = np.zeros((64, 64), np.float32)
MASK[16:48, 16:48] = 1.0


@pytest.mark.parametrize("name", COLORS.names())
def test_colour_transfers_keep_shape_range_and_their_own_statistics(name: str) -> None:
    out = transfer(name, FACE, DST, MASK, MASK)
    assert out.shape == FACE.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    stats = COLORS.get(name).stats
    if stats is not None:  # measured and applied apart, it must give what it gives in one go
        apart = stats.apply(FACE, stats.measure(FACE, MASK), stats.measure(DST, MASK))
        assert np.allclose(apart, out, atol=1e-5)


@pytest.mark.parametrize("name", BLENDS.names())
def test_blend_modes_leave_the_frame_outside_the_mask(name: str) -> None:
    blend = BLENDS.get(name)
    face = blend.adjust(FACE, DST, MASK) if blend.adjust else FACE
    assert face.shape == FACE.shape and np.isfinite(face).all()
    soft = np.asarray(cv2.GaussianBlur(MASK, (0, 0), 3), np.float32)
    out = blend.paste(DST, face, soft)
    assert out.shape == DST.shape and np.isfinite(out).all()
    outside = soft == 0
    assert np.allclose(out[outside], DST[outside], atol=1 / 255)
    inside = soft > 0.99
    assert np.abs(out[inside] - DST[inside]).mean() > 0.01  # the face did go in


@pytest.mark.parametrize("name", MASKS.names())
def test_mask_sources_give_a_mask_of_the_asked_size(name: str, tmp_path: Path) -> None:
    image, meta = face_file()
    path = write_aligned_face(tmp_path, image, meta)
    write_mask(path, np.full((meta.size_px, meta.size_px), 0.9, np.float32))  # as `mask apply` would
    learned = np.full((96, 96), 0.8, np.float32)
    source = open_sources(name)[0]
    mask = source(MaskInputs(learned, meta.landmarks_crop, 96, meta.size_px, image, 0, 0, path))
    assert mask.shape == (96, 96) and mask.dtype == np.float32
    assert np.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1 and mask.max() > 0


@pytest.mark.parametrize("name", DETECTORS.names())
def test_detectors_find_the_sample_face_and_nothing_in_noise(name: str) -> None:
    detector = open_detector(name, 0.5, 4)
    try:
        faces = detector.find(load_sample_face(0))
        assert len(faces) == 1 and faces[0].landmarks_478.shape == (478, 3)
        noise = RNG.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        assert detector.find(noise) == []
    finally:
        detector.close()


_face_cache: list[tuple[ImageBGR, FaceMeta]] = []


def face_file() -> tuple[ImageBGR, FaceMeta]:
    if not _face_cache:
        import tempfile

        from faceweave.config import load_config

        with tempfile.TemporaryDirectory() as folder:
            ws = Workspace(Path(folder))
            photos = ws.root / "photos"
            photos.mkdir()
            cv2.imwrite(str(photos / "0.png"), load_sample_face(0))
            run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst", photos)
            _face_cache.append(read_aligned_face(list_face_files(ws.dst_aligned)[0]))
    return _face_cache[0]


PLUGIN = '''
"""A throwaway plugin module: one colour transfer, one blend, one mask source and one model."""

import numpy as np
import torch

from faceweave.color import ColorTransfer
from faceweave.merge.blends import BlendMode
from faceweave.models import FaceSwapModel
from faceweave.registries import BLENDS, COLORS, MASKS, MODELS


def negative(source, target, source_mask, target_mask):
    return (1.0 - source).astype(np.float32)


def hard(background, face, mask):
    return np.where(mask[..., None] > 0.5, face, background).astype(np.float32)


def ellipse(inputs):
    yy, xx = np.mgrid[: inputs.size, : inputs.size] / inputs.size - 0.5
    return ((xx / 0.3) ** 2 + (yy / 0.4) ** 2 < 1).astype(np.float32)


class Passthrough(FaceSwapModel):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.gain = torch.nn.Parameter(torch.ones(()))

    def reconstruct(self, faces, side):
        return (faces * self.gain).clamp(0, 1), torch.ones_like(faces[:, :1])

    def swap(self, dst_faces):
        return self.reconstruct(dst_faces, "dst")


COLORS.add("negative", "the photographic negative of the face", ColorTransfer(negative), __name__)
BLENDS.add("hard", "paste where the mask passes one half, nothing elsewhere", BlendMode(hard), __name__)
MASKS.add("ellipse", "an upright ellipse in the middle of the crop", ellipse, __name__)
MODELS.add("passthrough", "gives dst's face back (a test model)", Passthrough, __name__)
'''


def _faceweave(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faceweave", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip


def test_a_plugin_module_appears_everywhere_and_works_end_to_end(tmp_path: Path) -> None:
    package = tmp_path / "extra_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "swapbits.py").write_text(textwrap.dedent(PLUGIN))
    env = {**os.environ, "FACEWEAVE_PLUGINS": "extra_plugins.swapbits",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    helped = _faceweave(env, "merge", "--help")
    assert helped.returncode == 0, helped.stderr
    for name in ("negative", "hard", "ellipse"):
        assert name in helped.stdout
    ws = tmp_path / "ws"
    assert _faceweave(env, "init", ws).returncode == 0
    toml = (ws / "faceweave.toml").read_text()
    for line in ("#   negative: the photographic negative of the face", "#   hard: paste where",
                 "#   ellipse: an upright ellipse", "#   passthrough: gives dst's face back"):  # fmt: skip
        assert line in toml
    refused = _faceweave(env, "merge", "-w", ws, "--color", "bogus")
    assert refused.returncode == 2 and "negative" in refused.stderr
    refused = _faceweave(env, "train", "-w", ws, "--iterations", "1", "--set", "train.arch=bogus")
    assert refused.returncode == 2 and "one of df, liae, passthrough" in refused.stderr
    # Without the plugin, the same names are unknown: nothing else was edited to make them work.
    plain = {k: v for k, v in env.items() if k != "FACEWEAVE_PLUGINS"}
    assert "negative" not in _faceweave(plain, "merge", "--help").stdout
    # A tiny end-to-end run: extract, train the plugin model, merge with the plugin colour, blend, mask.
    from faceweave.media.synth import ClipSpec
    from faceweave.pseudovideo import FacePuppet, write_puppet_clip

    for side, face in (("src", 0), ("dst", 1)):
        spec = ClipSpec(seconds=0.4, fps=25, width=320, height=240, seed=face, audio=False)
        write_puppet_clip(ws / f"data_{side}.mp4", FacePuppet.from_image(load_sample_face(face)), spec, face)
        done = _faceweave(env, "extract", side, "-w", ws, "--workers", "1", "--size", "96")
        assert done.returncode == 0, done.stderr
    sets = ["--set", "train.arch=passthrough", "--set", "train.loader_workers=0",
            "--set", "train.batch_size=2", "--set", "train.preview_every=0"]  # fmt: skip
    trained = _faceweave(env, "train", "-w", ws, "--iterations", "2", *sets)
    assert trained.returncode == 0, trained.stderr
    merged = _faceweave(env, "merge", "-w", ws, "--color", "negative", "--blend", "hard", "--mask", "ellipse",
                        "--blur", "0", "--set", "merge.shading=0", "--set", "merge.temporal=0")  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    meta = read_aligned_face(list_face_files(ws / "data_dst" / "aligned")[0])[1]
    x, y = meta.landmarks_frame[1, :2].astype(int)  # the nose tip: inside the ellipse
    with av.open(str(ws / "result.mp4")) as result, av.open(str(ws / "data_dst.mp4")) as dst:
        got = next(result.decode(video=0)).to_ndarray(format="bgr24")[y - 4 : y + 4, x - 4 : x + 4]
        was = next(dst.decode(video=0)).to_ndarray(format="bgr24")[y - 4 : y + 4, x - 4 : x + 4]
    assert np.abs(got.astype(float) - (255 - was.astype(float))).mean() < 25  # the negative went in
