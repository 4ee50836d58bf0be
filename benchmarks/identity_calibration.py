"""What dlib identity distances mean on our faces: the same synthetic person under different
expressions against different people, for `faceweave eval`'s identity rows.

Each portrait is rendered with five expressions (rest, mouth open, smile, blink, brows raised)
by the pseudo-video puppet; same-identity distances are between renders of one portrait,
different-identity distances between renders of two.
Usage: python benchmarks/identity_calibration.py [FACES_DIR]   (default: the bundled faces)
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
from pathlib import Path

import cv2
import numpy as np

from faceweave.assets import SAMPLE_FACES, sample_face_path
from faceweave.quality.anchors import CALIBRATION_EXPRESSIONS, identity_distances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("faces", type=Path, nargs="?")
    args = parser.parse_args()
    if args.faces:
        paths = sorted(p for p in args.faces.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    else:
        paths = [sample_face_path(i) for i in range(len(SAMPLE_FACES))]
    portraits = [cv2.imread(str(path), cv2.IMREAD_COLOR) for path in paths]
    same, other = identity_distances([np.asarray(p, np.uint8) for p in portraits if p is not None])
    s, o = np.array(same), np.array(other)
    print(f"{len(paths)} portraits x {len(CALIBRATION_EXPRESSIONS)} expressions")
    print(f"same person: mean {s.mean():.3f}, 95th percentile {np.percentile(s, 95):.3f}, max {s.max():.3f}")
    print(
        f"different people: mean {o.mean():.3f}, 5th percentile {np.percentile(o, 5):.3f}, min {o.min():.3f}"
    )
    print(f"pairs on the right side of 0.6: same {np.mean(s < 0.6):.3f}, different {np.mean(o >= 0.6):.3f}")


if __name__ == "__main__":
    main()
