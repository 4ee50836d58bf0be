"""Blur and motion blur: the sharpest faces first."""

from __future__ import annotations

from faceweave.faceset.sorts import SortMethod, by_key
from faceweave.registries import SORTS

SORTS.add(
    "blur",
    "sharpest first: variance of the Laplacian inside the face",
    SortMethod(lambda i: by_key(i.stats["blur"], descending=True), needs=("meta", "pixels")),
    __name__,
    rank=10,
)
SORTS.add(
    "motion-blur",
    "least motion blur first: gradient energy along the face's weakest direction (a smear one way "
    "leaves it near zero while the other way stays sharp)",
    SortMethod(lambda i: by_key(i.stats["motion"], descending=True), needs=("meta", "pixels")),
    __name__,
    rank=11,
)
