"""Offline reconstruction without ROS: smplr-reconstruct on real frames of the sample video."""
import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from node_helpers import REPO, sample_frame
from smplr_core.reconstruct import DEFAULT_FOV_DEG, default_intrinsics

FRAMES = (118, 120, 122)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """Three consecutive frames as an image folder, reconstructed once (npz + json + render)."""
    tmp = tmp_path_factory.mktemp("cli")
    folder = tmp / "frames"
    folder.mkdir()
    for k, index in enumerate(FRAMES):
        cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(sample_frame(index), cv2.COLOR_RGB2BGR))
    out = tmp / "result.npz"
    proc = subprocess.run([sys.executable, "-m", "smplr_core.reconstruct", str(folder),
                           "--out", str(out), "--json", "--fx", "500", "--fps", "5", "--render",
                           str(tmp / "overlay.mp4"), "--quiet"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp, np.load(out), json.loads((tmp / "result.json").read_text()), proc.stdout


def test_default_intrinsics_follow_the_documented_field_of_view():
    fx, fy, cx, cy = default_intrinsics(640, 360)
    assert fx == fy == pytest.approx(320 / math.tan(math.radians(DEFAULT_FOV_DEG / 2)))
    assert (cx, cy) == (320, 180)
    assert default_intrinsics(640, 360, fx=500)[:2].tolist() == [500, 500]


def test_npz_has_one_row_per_frame_and_person_with_named_joints(result):
    _, npz, _, _ = result
    m = len(npz["frame_index"])
    assert m >= len(FRAMES), "expected at least one person per frame"
    assert set(npz["frame_index"].tolist()) == set(range(len(FRAMES)))
    assert npz["joints"].shape == (m, 24, 3) and npz["landmarks"].shape == (m, 18, 3)
    assert npz["betas"].shape == (m, 10) and npz["body_pose"].shape == (m, 23, 3)
    assert npz["global_orient"].shape == (m, 3) and npz["transl"].shape == (m, 3)
    assert npz["keypoints_2d"].shape == (m, 33, 2) and npz["visibility"].shape == (m, 33)
    assert list(npz["joint_names"][:3]) == ["pelvis", "left_hip", "right_hip"]
    assert len(npz["landmark_names"]) == 18 and len(npz["keypoint_names"]) == 33
    assert np.isfinite(npz["joints"]).all()
    assert npz["intrinsics"].tolist() == pytest.approx([500, 500, 240, 135])
    assert float(npz["fps"]) == 5.0


def test_npz_has_the_bodys_blazepose_keypoints_and_the_dae_points(result):
    _, npz, data, _ = result
    m = len(npz["frame_index"])
    assert npz["keypoints3d"].shape == (m, 33, 3) and npz["dae_points"].shape == (m, 41, 3)
    valid = npz["valid"]
    # the body's BlazePose hips lie near its SMPL hips (same person, camera frame, metres)
    hips = npz["keypoints3d"][valid][:, 23:25] - npz["joints"][valid][:, 1:3]
    assert np.linalg.norm(hips, axis=-1).max() < 0.15
    person = data["frames"][0]["people"][0]
    assert len(person["keypoints3d"]) == 33 and len(person["keypoints3d"]["nose"]) == 3
    assert len(person["dae_points"]["joints"]) == 23 and len(person["dae_points"]["landmarks"]) == 18
    assert person["dae_points"]["landmarks"]["head_top"] == npz["dae_points"][0, 40].tolist()


def test_width_resizes_frames_and_scales_intrinsics_and_dist_is_accepted(result):
    tmp = result[0]
    out = tmp / "small.npz"
    proc = subprocess.run([sys.executable, "-m", "smplr_core.reconstruct", str(tmp / "frames"), "--out", str(out),
                           "--fx", "500", "--width", "240", "--dist", "-0.1", "0.01", "0", "0",
                           "--max-frames", "1", "--quiet"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    npz = np.load(out)
    assert npz["image_size"].tolist() == [240, 135]
    assert npz["intrinsics"].tolist() == pytest.approx([250, 250, 120, 67.5])
    assert len(npz["frame_index"]) >= 1 and np.isfinite(npz["keypoints3d"]).all()


def test_every_option_has_help_text():
    from smplr_core.reconstruct import build_parser

    for action in build_parser()._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help text"


def test_track_ids_persist_across_consecutive_frames(result):
    _, npz, _, _ = result
    ids = [set(npz["track_id"][npz["frame_index"] == f].tolist()) for f in range(len(FRAMES))]
    assert ids[0] & ids[1] & ids[2], f"no track kept its id over consecutive frames: {ids}"


def test_json_names_every_joint_per_person(result):
    _, npz, data, _ = result
    people = [p for f in data["frames"] for p in f["people"]]
    assert len(people) == len(npz["frame_index"])
    person = people[0]
    assert list(person["joints"])[:2] == ["pelvis", "left_hip"] and len(person["joints"]) == 24
    assert len(person["keypoints_2d"]["nose"]) == 3
    assert set(person["smpl"]) == {"betas", "global_orient", "body_pose", "transl"}


def test_render_writes_video_and_contact_sheet(result):
    tmp, _, _, stdout = result
    cap = cv2.VideoCapture(str(tmp / "overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(FRAMES)
    assert (tmp / "overlay_contact_sheet.png").is_file()
    assert "overlay.mp4" in stdout


def test_missing_input_is_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "smplr_core.reconstruct", str(tmp_path / "nope.mp4"),
                           "--out", str(tmp_path / "r.npz")], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"smplr-reconstruct: error: no such video file or image folder: {tmp_path / 'nope.mp4'}"
