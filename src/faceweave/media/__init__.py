"""Video and image input/output; the only package that touches PyAV."""

from faceweave.media.decode import DecodeReport, FrameSource, open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.probe import probe_video

__all__ = [
    "DecodeReport",
    "EncodeSettings",
    "FrameSource",
    "VideoWriter",
    "open_frames",
    "probe_video",
]
