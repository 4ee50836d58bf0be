"""faceweave: face-swap video in the line of DeepFaceLab and faceswap, labelled as synthetic."""

__version__ = "0.1.0"
