"""Recall on the sample video in tracking mode (issue 17): the hand marks are well-formed, the man
on the box and the man on the grass are found where the tracker without the medium detection
scale lost him, and frames without people still give nobody."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from smplr_core.frontends.blazepose.assets import media_path
from tests.frontend_helpers import one_torch_thread, tracker  # noqa: F401 (autouse fixture)

MARKS = Path(__file__).resolve().parent / "data" / "sports2d_marks.json"
SOURCE_SIZE = (1768, 994)
WIDTH = 640  # scripts/demo.sh


def sample_frames(first: int, last: int) -> list[np.ndarray]:
    """Frames first..last (inclusive) of the sample video at width 640, as the demo's source sends them."""
    from smplr_core.reconstruct import iter_frames
    frames = itertools.islice(iter_frames(media_path("sports2d_demo.mp4"), WIDTH), first, last + 1)
    return [rgb for _, rgb in frames]


@pytest.fixture
def live_tracker():
    """The tracker as the node builds it: max_people 4, no world landmarks, live-stream detection."""
    trk = tracker(max_people=4, world=False)
    before = trk.spread_first_detection
    trk.spread_first_detection = True
    trk.reset()
    yield trk
    trk.spread_first_detection = before
    trk.reset()


def covered(point: np.ndarray, people) -> bool:
    """A returned box, enlarged by 20 % as bench/frontend.py's match_people does, covers point."""
    for p in people:
        lo, hi = p.box[:2], p.box[2:]
        m = 0.2 * (hi - lo)
        if np.all(point >= lo - m) and np.all(point <= hi + m):
            return True
    return False


def mark(frame: int, name: str) -> np.ndarray:
    spec = json.loads(MARKS.read_text())
    return np.array(spec["people"][str(frame)][name], dtype=np.float64) * WIDTH / SOURCE_SIZE[0]


def test_marks_file_is_well_formed():
    spec = json.loads(MARKS.read_text())
    assert spec["description"] and spec["video"].startswith("sports2d_demo.mp4")
    assert sorted(map(int, spec["people"])) == list(range(0, 230, 10))  # every 10th of 230 frames
    labels = set()
    for frame, people in spec["people"].items():
        assert people, frame  # someone is fully visible in every marked frame
        for name, point in people.items():
            assert len(point) == 2 and 0 <= point[0] < SOURCE_SIZE[0] and 0 <= point[1] < SOURCE_SIZE[1], (frame, name)
            labels.add(name)
        for name in spec["excluded"].get(frame, {}):
            assert name not in people, (frame, name)  # excluded means not marked
    assert labels == {"man", "walker"}
    assert all(int(f) % 10 == 0 and set(v) <= labels for f, v in spec["excluded"].items())


def test_man_on_box_found_on_the_first_live_frame(live_tracker):
    """The live stream's first frame visits the whole image, the two medium squares and four tiles:
    the man on the box (about 140 px tall at width 640) is too small for the whole image and too
    large for a tile; the medium squares find him."""
    people = live_tracker(sample_frames(0, 0)[0])
    assert covered(mark(0, "man"), people)


def test_man_on_grass_found_after_the_backflip(live_tracker):
    """Tracking mode over frames 150-200: the man is lost in his backflip against the sun (frames
    165-185) and must be found again on the grass by frame 190 (arms up) and 200 (crouching), as
    the walker is kept meanwhile. Before the medium scale he was missed at both."""
    frames = sample_frames(150, 200)
    seen = {}
    for i, frame in enumerate(frames, start=150):
        people = live_tracker(frame)
        if i in (160, 190, 200):
            seen[i] = people
    assert covered(mark(160, "walker"), seen[160]) and covered(mark(190, "walker"), seen[190])
    assert covered(mark(190, "man"), seen[190])
    assert covered(mark(200, "man"), seen[200])


@pytest.mark.parametrize("size", [(360, 640), (1080, 1920)])
@pytest.mark.parametrize("kind", ["black", "noise"])
def test_blank_and_noise_frames_give_nobody_in_tracking_mode(live_tracker, kind, size):
    """Nobody in 12 frames in a row, so that detection runs on every frame and visits every tile
    and the medium squares (the live tracker: four tiles a detection)."""
    rng = np.random.default_rng(1)
    for _ in range(12):
        image = np.zeros((*size, 3), np.uint8) if kind == "black" else \
            rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        assert live_tracker(image) == []
