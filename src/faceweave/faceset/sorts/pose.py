"""Head pose and face size, from the metadata alone (nothing decoded)."""

from __future__ import annotations

from faceweave.faceset.sorts import SortMethod, by_key
from faceweave.registries import SORTS

SORTS.add("yaw", "head turned to the image's left first, to its right last",
          SortMethod(lambda i: by_key(i.stats["yaw"])), __name__, rank=20)  # fmt: skip
SORTS.add("pitch", "head raised (looking up) first, lowered last",
          SortMethod(lambda i: by_key(i.stats["pitch"])), __name__, rank=21)  # fmt: skip
SORTS.add("size", "largest face in its frame first (box side in frame pixels)",
          SortMethod(lambda i: by_key(i.stats["size_frame"], True)), __name__, rank=22)  # fmt: skip
