"""faceweave: face-swap video in the line of DeepFaceLab and faceswap, labelled as synthetic."""

import os

# numpy's OpenBLAS threads busy-wait (sched_yield) after every small matrix product; faceweave's
# matrices are tiny, and during extraction those spinning threads cost 5 s of CPU per 300 frames
# (measured). Set before numpy is first imported; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
