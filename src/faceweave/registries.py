"""The registry of each plugin kind. This module imports nothing heavy, so the config can name a
registry's plugins as an option's choices without loading a model, a detector or OpenCV.

| registry | a plugin is | built-ins in |
| --- | --- | --- |
| `MODELS` | `ModelConfig -> FaceSwapModel` | `faceweave.models` |
| `DETECTORS` | `(min_score, max_faces) -> FaceDetector` | `faceweave.detectors` |
| `MASKS` | `MaskSource`: mask inputs -> mask | `faceweave.merge.mask_sources` |
| `COLORS` | `ColorTransfer` | `faceweave.color` |
| `BLENDS` | `BlendMode` | `faceweave.merge.blends` |
| `SORTS` | `SortMethod`: faceset statistics -> order | `faceweave.faceset.sorts` |

See docs/extending.md for one example of each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faceweave.plugins import Registry

if TYPE_CHECKING:
    from collections.abc import Callable

    from faceweave.color import ColorTransfer
    from faceweave.detectors import DetectorFactory
    from faceweave.faceset.sorts import SortMethod
    from faceweave.merge.blends import BlendMode
    from faceweave.merge.mask_sources import MaskPlugin

MODELS: Registry[Callable[[Any], Any]] = Registry("model", "faceweave.models")
DETECTORS: Registry[DetectorFactory] = Registry("face detector", "faceweave.detectors")
MASKS: Registry[MaskPlugin] = Registry("mask source", "faceweave.merge.mask_sources")
COLORS: Registry[ColorTransfer] = Registry("colour transfer", "faceweave.color")
BLENDS: Registry[BlendMode] = Registry("blend mode", "faceweave.merge.blends")
SORTS: Registry[SortMethod] = Registry("sort method", "faceweave.faceset.sorts")
