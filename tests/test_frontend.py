"""PoseTracker behaviour on real images and video: people found, anatomy, empty scenes, bad input, ids."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from smplr_core.frontends import KEYPOINT_NAMES, PersonKeypoints, PoseTracker
from tests.frontend_helpers import astronaut, messi, one_torch_thread, tracker, video_frames  # noqa: F401 (autouse fixture)

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def _single(image: np.ndarray) -> PersonKeypoints:
    t = tracker()
    t.reset()
    people = t(image)
    assert len(people) == 1, f"expected one person, got {len(people)}"
    return people[0]


def _mid(p: PersonKeypoints, a: str, b: str) -> np.ndarray:
    return (p.keypoints[K[a]] + p.keypoints[K[b]]) / 2


def _check_fields(p: PersonKeypoints) -> None:
    assert p.keypoints.shape == (33, 2) and p.keypoints.dtype == np.float32
    assert p.visibility.shape == (33,) and np.all((p.visibility >= 0) & (p.visibility <= 1))
    assert p.world is not None and p.world.shape == (33, 3) and np.all(np.isfinite(p.world))
    assert p.box.shape == (4,) and p.box[0] < p.box[2] and p.box[1] < p.box[3]
    assert 0.5 <= p.score <= 1.0


def test_keypoint_names_match_body_definition():
    keypoints = pytest.importorskip("smplr_core.body.keypoints")
    assert tuple(keypoints.BLAZEPOSE_NAMES) == KEYPOINT_NAMES


def test_astronaut_face_and_shoulders_in_place():
    img = astronaut()  # 512x512, facing the camera, cut at the waist; face around (225, 120)
    p = _single(img)
    _check_fields(p)
    nose = p.keypoints[K["nose"]]
    assert 180 < nose[0] < 270 and 80 < nose[1] < 170
    for name in ("left_eye", "right_eye", "mouth_left", "mouth_right"):
        assert np.linalg.norm(p.keypoints[K[name]] - nose) < 60
    shoulders = _mid(p, "left_shoulder", "right_shoulder")
    hips = _mid(p, "left_hip", "right_hip")
    assert nose[1] < shoulders[1] < hips[1], "head above shoulders above hips"
    # Facing the camera: the person's left side is on the image's right.
    assert p.keypoints[K["left_shoulder"]][0] > p.keypoints[K["right_shoulder"]][0]
    assert p.keypoints[K["left_eye"]][0] > p.keypoints[K["right_eye"]][0]
    assert p.visibility[K["nose"]] > 0.9 and p.visibility[K["left_shoulder"]] > 0.5
    # Hips are below the image edge: less visible than the face.
    assert p.visibility[K["left_ankle"]] < p.visibility[K["nose"]]


def test_messi_full_body_anatomically_ordered():
    img = messi()  # 548x342, player kicking, facing the camera, body within x 70..460
    p = _single(img)
    _check_fields(p)
    h, w = img.shape[:2]
    body = [K[n] for n in ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
                           "left_knee", "right_knee")]
    assert np.all((p.keypoints[body, 0] > 60) & (p.keypoints[body, 0] < 470))
    assert np.all((p.keypoints[body, 1] > 50) & (p.keypoints[body, 1] < h))
    nose = p.keypoints[K["nose"]]
    shoulders, hips = _mid(p, "left_shoulder", "right_shoulder"), _mid(p, "left_hip", "right_hip")
    knees, ankles = _mid(p, "left_knee", "right_knee"), _mid(p, "left_ankle", "right_ankle")
    assert nose[1] < shoulders[1] < hips[1] < knees[1] < ankles[1]
    assert p.keypoints[K["left_shoulder"]][0] > p.keypoints[K["right_shoulder"]][0]
    assert p.keypoints[K["left_hip"]][0] > p.keypoints[K["right_hip"]][0]
    # World landmarks: metres around the hips, head ~0.5 m above them (y down).
    assert p.world[K["nose"], 1] < -0.3 and np.abs(p.world).max() < 1.5


@pytest.mark.parametrize("name", ["black", "constant", "noise", "coffee", "rocket", "vtest_sky"])
def test_images_without_people_give_empty_result(name):
    rng = np.random.default_rng(0)
    images = {
        "black": lambda: np.zeros((480, 640, 3), np.uint8),
        "constant": lambda: np.full((480, 640, 3), 137, np.uint8),
        "noise": lambda: rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        "coffee": lambda: np.ascontiguousarray(data.coffee()),
        "rocket": lambda: np.ascontiguousarray(data.rocket()),
        # The top of the first vtest frame: buildings, lawn and cars, nobody.
        "vtest_sky": lambda: np.ascontiguousarray(video_frames("vtest.avi", [0])[0][:140]),
    }
    t = tracker()
    t.reset()
    assert t(images[name]()) == []


@pytest.mark.parametrize("bad, why", [
    (np.zeros((480, 640, 3), np.float32), "dtype"),
    (np.zeros((480, 640), np.uint8), "shape"),
    (np.zeros((480, 640, 4), np.uint8), "shape"),
    (np.zeros((0, 0, 3), np.uint8), "empty"),
    ([[0, 0, 0]], "numpy"),
])
def test_malformed_input_raises_value_error(bad, why):
    with pytest.raises(ValueError, match=why):
        tracker()(bad)


def test_tiny_and_odd_sized_images_do_not_fail():
    t = tracker()
    for shape in ((2, 2, 3), (3, 999, 3), (999, 5, 3)):
        t.reset()
        assert t(np.full(shape, 90, np.uint8)) == []


def test_reset_restarts_ids():
    t = tracker()
    t.reset()
    first = t(messi())
    t(messi())
    t.reset()
    again = t(messi())
    assert [p.track_id for p in first] == [p.track_id for p in again] == [0]


def test_small_people_in_vtest_are_found():
    # Frame 0 of vtest.avi holds four pedestrians about 100-130 px tall in 768x576.
    t = tracker(max_people=8)
    t.reset()
    people = t(video_frames("vtest.avi", [0])[0])
    assert len(people) >= 3
    heights = [p.box[3] - p.box[1] for p in people]
    assert max(heights) < 200


def test_ids_stable_over_clip():
    """sports2d demo: a man on a box (left half, arms raised at first) and a woman walking in on
    the right. They never cross, so in tracking mode each side keeps one id from when it is found."""
    frames = video_frames("sports2d_demo.mp4", limit=60)
    width = frames[0].shape[1]
    t = tracker()
    t.reset()
    ids_by_side: dict[str, list[int]] = {"left": [], "right": []}
    centres: dict[int, list[np.ndarray]] = {}
    for frame in frames:
        for p in t(frame):
            centre = (p.box[:2] + p.box[2:]) / 2
            ids_by_side["left" if centre[0] < width / 2 else "right"].append(p.track_id)
            centres.setdefault(p.track_id, []).append(centre)
    # A track lasting a few frames on one side (a short-lived false detection) is no id switch;
    # an id switch would split a person's frames between two long tracks.
    for side, ids in ids_by_side.items():
        long_tracks = {i for i in ids if ids.count(i) >= 5}
        assert len(long_tracks) <= 1, f"{side} person changed id: {ids}"
    man = max(set(ids_by_side["left"]), key=ids_by_side["left"].count)
    assert ids_by_side["left"].count(man) >= 55, "the man keeps one id in (nearly) every frame"
    for tid, c in centres.items():
        jumps = np.linalg.norm(np.diff(np.array(c), axis=0), axis=1)
        assert jumps.size == 0 or jumps.max() < 0.1 * width, f"track {tid} jumped {jumps.max():.0f} px"


def test_lost_person_is_dropped_and_found_again():
    t = tracker()
    t.reset()
    img = messi()
    assert len(t(img)) == 1
    assert t(np.zeros_like(img)) == []
    people = t(img)
    assert len(people) == 1 and people[0].track_id == 1  # a new track after the loss


def test_max_people_is_respected():
    t = PoseTracker(max_people=2)
    people = t(video_frames("vtest.avi", [0])[0])
    assert 1 <= len(people) <= 2
    with pytest.raises(ValueError, match="max_people"):
        PoseTracker(max_people=0)


def test_missing_model_file_names_file_and_setup(monkeypatch, tmp_path):
    monkeypatch.setenv("SMPLR_ASSETS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"detector\.pt.*scripts/setup\.sh"):
        PoseTracker()


def test_device_crop_path_matches_opencv_path():
    """The grid_sample crop path (used on CUDA) gives the same people as the OpenCV path."""
    img = messi()
    a = tracker()
    a.reset()
    b = tracker(crop="torch")
    b.reset()
    pa, pb = a(img), b(img)
    assert len(pa) == len(pb) == 1
    # The sub-pixel crop differences move the ROI a little, hence a few pixels at the feet.
    diff = np.linalg.norm(pa[0].keypoints - pb[0].keypoints, axis=1)
    assert diff.max() < 5.0 and diff.mean() < 1.5
    assert np.abs(pa[0].visibility - pb[0].visibility).max() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    img = messi()
    cpu = PoseTracker(device="cpu")(img)
    gpu = PoseTracker(device="cuda")(img)
    assert len(cpu) == len(gpu) == 1
    assert np.abs(cpu[0].keypoints - gpu[0].keypoints).max() < 1.0


def test_warm_up_compiles_every_batch_size_tracking_uses():
    """After warm_up the fused CPU graphs are compiled for every shape a frame can bring (whole
    batches and their halves), so no frame pays for compiling; the tracker still works."""
    from smplr_core.frontends.tracker import CANDIDATE_SURPLUS
    from smplr_core.inference import FusedGraph

    trk = PoseTracker(max_people=2, tile_grid=(2, 2), tiles_per_detection=2)
    if not isinstance(trk.landmarks.net, FusedGraph):
        pytest.skip("no oneDNN Graph fuser in this torch build")
    assert not trk.landmarks.net.warm(torch.Size([1, 3, 256, 256]))
    assert trk.warm_up() > 0
    for b in range(1, 2 + CANDIDATE_SURPLUS + 1):
        shapes = [(b, 3, 256, 256)] if torch.get_num_threads() > 1 else \
            [((b + 1) // 2, 3, 256, 256), (b // 2, 3, 256, 256)] if b > 1 else [(1, 3, 256, 256)]
        assert all(trk.landmarks.net.warm(torch.Size(s)) for s in shapes), b
    for b in (1 + 2 + 4, 1 + 2 + 2):  # whole image, the two medium squares, all tiles or two
        half = (b + 1) // 2 if torch.get_num_threads() == 1 else b
        assert trk.detector.net.warm(torch.Size([half, 3, 224, 224])), b
    people = trk(messi())
    assert len(people) >= 1
