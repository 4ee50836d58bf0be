"""Things in front of a face: procedural occluders with exact masks, a small segmenter that finds
them in an aligned face, and hands from mediapipe's hand landmarker."""
