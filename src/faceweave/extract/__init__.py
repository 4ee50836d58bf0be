"""Face extraction: detection, landmarks, alignment, tracking and the `extract` stage."""
