"""Small pure functions of the media layer and the video tools."""

from __future__ import annotations

import numpy as np
import pytest

from faceweave.errors import UserError
from faceweave.media.decode import natural_key, upright
from faceweave.media.encode import even_size, pad_to
from faceweave.media.probe import normalise_rotation, rate_from_times
from faceweave.videotools import FrameSelection, FrameSelector


def kept(selection: FrameSelection, fps: float = 25.0, count: int = 50) -> list[int]:
    selector = FrameSelector(selection)
    return [i for i in range(count) if selector.keep(i / fps)]


def test_every_nth_and_window() -> None:
    assert kept(FrameSelection(every_nth=10)) == [0, 10, 20, 30, 40]
    assert kept(FrameSelection(start_s=1.0, end_s=1.2)) == [25, 26, 27, 28, 29]


def test_target_rate_keeps_one_frame_per_slot() -> None:
    assert kept(FrameSelection(fps=5.0)) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    assert kept(FrameSelection(fps=10.0), fps=30.0, count=12) == [0, 3, 6, 9]
    assert kept(FrameSelection(fps=100.0), count=5) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "selection",
    [dict(every_nth=0), dict(fps=0.0), dict(start_s=-1.0), dict(start_s=2.0, end_s=1.0)],
)
def test_bad_selection_is_a_user_error(selection: dict[str, float]) -> None:
    with pytest.raises(UserError):
        FrameSelection(**selection)  # type: ignore[arg-type]


def test_natural_sort() -> None:
    names = ["f10.png", "f2.png", "F1.png", "f100.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f2.png", "f10.png", "f100.png"]


def test_rotation_rounding_and_upright() -> None:
    assert [normalise_rotation(d) for d in (0, 89.6, -90, 180, 270, 360)] == [0, 90, 270, 180, 270, 0]
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 2] = 255  # top right
    turned = upright(image, 90)
    assert turned.shape == (3, 2, 3) and turned[0, 0, 0] == 255  # counter-clockwise: top right -> top left


def test_even_size_and_padding_replicate_the_edge() -> None:
    assert even_size(161, 101) == (162, 102) and even_size(160, 100) == (160, 100)
    image = np.arange(9, dtype=np.uint8).reshape(3, 3, 1).repeat(3, axis=2)
    padded = pad_to(image, 4, 4)
    assert padded.shape == (4, 4, 3) and padded[3, 3, 0] == 8 and padded[0, 3, 0] == 2


def test_rate_from_times() -> None:
    interval, vfr = rate_from_times([i / 25 for i in range(10)])
    assert interval == pytest.approx(0.04) and not vfr
    assert rate_from_times([0.0, 0.02, 0.1, 0.12, 0.2])[1]
    assert rate_from_times([0.0]) == (0.0, False)


def test_the_fd_server_thread_stays_quiet_and_other_errors_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """multiprocessing's resource sharer hands its thread's errors to sys.excepthook itself."""
    import sys

    from faceweave.childproc import quiet_fd_server

    seen: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.append(str(value)))
    quiet_fd_server()
    quiet_fd_server()  # once is enough: the hook is not stacked
    namespace: dict[str, object] = {}
    exec(compile("def serve():\n    raise OSError('listener closed')\n",
                 "/usr/lib/python3/multiprocessing/resource_sharer.py", "exec"), namespace)  # fmt: skip

    def other() -> None:
        raise ValueError("a real fault")

    for target in (namespace["serve"], other):
        try:
            target()  # type: ignore[operator]
        except Exception:  # noqa: BLE001  as the resource sharer does: to sys.excepthook
            sys.excepthook(*sys.exc_info())
    assert seen == ["a real fault"]
