"""How visible is the watermark? ColorVideoVDP (the `cvvdp` package, Mantiuk et al., SIGGRAPH 2024),
a model of human spatio-temporal and colour vision that was fitted to viewer ratings, compares
each marked merge with the same merge unmarked and predicts the difference in JOD units: 10 means
no visible difference, and one JOD less means 75% of viewers would pick the unmarked clip. The
moving mark flips its sign every frame (12.5 Hz at 25 fps), which is the flicker a static-image
metric such as PSNR cannot see.

The clip: an expressive pseudo-video of bundled face 1 at 1280x720 and 25 fps, merged with a
model that returns its input, so only the mark differs. It is judged as if shown full screen on a
24-inch monitor (200 cd/m2, office light) from 60 cm, ColorVideoVDP's `standard_fhd` viewing.
Variants switch parts of the mark off or scale it (the benchmark patches faceweave; faceweave
itself has no switch), and a crf 23 re-encode of the unmarked merge shows what a routine
re-encode costs on the same scale.

Needs `pip install --no-deps -r requirements-visibility.txt` (not in CI). Usage:
python benchmarks/visibility.py [--seconds 2] [--frames 25]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import contextlib
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.media.decode import open_frames
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.provenance import watermark
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace

sys.path.insert(0, str(Path(__file__).parent))
from provenance import _AtDst, rewrite

Video = npt.NDArray[np.uint8]  # (frames, height, width, 3) RGB


class _GaussianBlur(torch.nn.Module):
    """torchvision.transforms.GaussianBlur on tensors (reflect padding, normalised kernel): the one
    piece of torchvision that ColorVideoVDP's metric uses. torchvision does not import beside the
    CPU torch pinned here (README), so this stands in for it."""

    def __init__(self, kernel_size: int, sigma: float) -> None:
        super().__init__()
        x = torch.linspace(-(kernel_size // 2), kernel_size // 2, kernel_size)
        kernel = torch.exp(-0.5 * (x / sigma) ** 2)
        self.kernel = kernel / kernel.sum()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        shape, pad = image.shape, len(self.kernel) // 2
        flat = F.pad(image.reshape(-1, 1, *shape[-2:]), (pad, pad, pad, pad), mode="reflect")
        kernel = self.kernel.to(image)
        flat = F.conv2d(flat, kernel.view(1, 1, 1, -1))
        return F.conv2d(flat, kernel.view(1, 1, -1, 1)).reshape(shape)


def _stand_in(name: str, **attributes: object) -> None:
    """Registers module `name` (and its parents) with `attributes`, unless it imports for real."""
    try:
        __import__(name)
    except Exception:  # noqa: BLE001  a broken install raises more than ImportError
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            sys.modules.setdefault(".".join(parts[:depth]), types.ModuleType(".".join(parts[:depth])))
        module = sys.modules[name]
        for key, value in attributes.items():
            setattr(module, key, value)
        if len(parts) > 1:
            setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)


def _unused(*_: object, **__: object) -> object:
    raise RuntimeError("only ColorVideoVDP's learnt variants need this, and this benchmark does not use them")


def _import_cvvdp() -> Any:
    """pycvvdp, with stand-ins for what its plain metric does not need or cannot have here: a
    model hub and an MLP class (its learnt variants' only), and torchvision's Gaussian blur."""
    _stand_in("torchvision.transforms", GaussianBlur=_GaussianBlur)
    _stand_in("torchvision.ops", MLP=_unused)
    _stand_in("huggingface_hub", hf_hub_download=_unused)
    try:
        import pycvvdp  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as error:
        raise SystemExit(
            f"{error}: run `pip install --no-deps -r requirements-visibility.txt` first"
        ) from None
    return pycvvdp


def read_video(path: Path, frames: int) -> Video:
    images = [cv2.cvtColor(f.image_bgr_u8, cv2.COLOR_BGR2RGB) for f in open_frames(path)][:frames]
    return np.stack(images)


Variant = Callable[[], contextlib.AbstractContextManager[object]]


@contextlib.contextmanager
def _patched(**changes: object) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for name, value in changes.items():
            stack.enter_context(mock.patch(name.replace("__", "."), value))
        yield


def _scaled_moving(scale: float) -> Callable[[int], watermark.Field]:
    def field(payload: int) -> watermark.Field:
        return np.asarray(scale * watermark.mark_field(payload), np.float32)

    return field


def _no_still(gray: watermark.Field) -> watermark.Field:
    return np.zeros_like(gray)


def _moving(scale: float) -> Variant:
    return lambda: _patched(faceweave__merge__run__mark_field=_scaled_moving(scale))


VARIANTS: dict[str, Variant] = {
    "as shipped (moving + still)": lambda: _patched(),
    "moving mark only": lambda: _patched(faceweave__provenance__watermark__still_field=_no_still),
    "still mark only": _moving(0.0),
    "moving at 1/2 amplitude, still": _moving(0.5),
    "moving at 1/4 amplitude, still": _moving(0.25),
    "moving at 1.5x amplitude, still": _moving(1.5),
    "moving at 2x amplitude, still": _moving(2.0),
}


def unmarked() -> contextlib.AbstractContextManager[object]:
    return _patched(faceweave__merge__run__embed=lambda *_: None, faceweave__merge__run__MarkPlacer=_AtDst)


def merged(ws: Workspace, variant: Variant, frames: int) -> Video:
    from tests.merge.conftest import IdentityModel

    with variant():
        run_merge(load_config(), ws, model=IdentityModel())
    return read_video(ws.result, frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--frames", type=int, default=25, help="frames judged, from the start (about 3 s of CPU each)"
    )
    parser.add_argument("--only", default="", help="judge only the variants whose name holds this")
    args = parser.parse_args()
    pycvvdp = _import_cvvdp()
    sys.path.insert(0, str(Path(__file__).parents[1]))
    metric = pycvvdp.cvvdp(
        display_name="standard_fhd",
        # 720p shown full screen on the 24-inch FHD monitor: the same size and distance
        display_geometry=pycvvdp.vvdp_display_geometry((1280, 720), distance_m=0.6, diagonal_size_inches=24),
        device=torch.device("cpu"),
        quiet=True,
    )
    with tempfile.TemporaryDirectory(prefix="fw_visibility_") as tmp:
        ws = init_workspace(Path(tmp) / "ws").workspace
        spec = ClipSpec(seconds=args.seconds, fps=25, width=1280, height=720, seed=9, audio=False)
        write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, 9)
        run_extract(load_config(), ws, "dst")
        reference = merged(ws, unmarked, args.frames)
        reencoded = read_video(rewrite(ws.result, Path(tmp) / "crf23.mp4", 23), args.frames)
        chosen = {name: variant for name, variant in VARIANTS.items() if args.only in name}
        tests = {name: merged(ws, variant, args.frames) for name, variant in chosen.items()}
        tests["unmarked, re-encoded at crf 23"] = reencoded
        print(f"ColorVideoVDP, standard_fhd viewing, {len(reference)} frames of 720p at 25 fps")
        for name, video in tests.items():
            start = time.perf_counter()
            jod, _ = metric.predict(video, reference, dim_order="FHWC", frames_per_second=25)
            rms = float(np.sqrt(np.mean((video.astype(np.float32) - reference) ** 2)))
            print(f"{name:34s} JOD {float(jod):5.2f}   RMS over the frame {rms:4.2f} levels "
                  f"({time.perf_counter() - start:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
