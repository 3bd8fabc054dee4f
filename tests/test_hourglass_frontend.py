"""The paper's hourglass as the non-default 3D lift: `--frontend hourglass` offline and
`frontend:=hourglass` in the node, with the real BlazePose detector, hourglass and SMPLR."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from node_helpers import REPO, run_node_until_exit, running_node, sample_frame
from smplr_ros.launch_graph import build_commands
from test_node_startup import assert_one_line_naming

FRAME_TIMEOUT_S = 90.0
FRAMES = (118, 120)


def check_person_joints(joints: np.ndarray, names: list[str]) -> None:
    """(24, 3) camera-frame joints of an upright person: finite, in front, head above feet."""
    assert joints.shape == (24, 3) and np.isfinite(joints).all()
    y = {n: v[1] for n, v in zip(names, joints)}
    assert 0.5 < joints[names.index("pelvis"), 2] < 30.0, "person should be in front of the camera"
    # Camera optical frame: y points down, so "above" means a smaller y.
    assert y["head"] < y["pelvis"] < min(y["left_ankle"], y["right_ankle"])


def test_offline_cli_with_the_hourglass_writes_the_documented_fields(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, index in enumerate(FRAMES):
        cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(sample_frame(index), cv2.COLOR_RGB2BGR))
    out = tmp_path / "result.npz"
    proc = subprocess.run([sys.executable, "-m", "smplr_core.reconstruct", str(folder), "--out",
                           str(out), "--json", "--frontend", "hourglass", "--quiet"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    npz = np.load(out)
    m = len(npz["frame_index"])
    assert m >= len(FRAMES) and set(npz["frame_index"].tolist()) == set(range(len(FRAMES)))
    assert str(npz["frontend"]) == "hourglass"
    assert npz["joints"].shape == (m, 24, 3) and npz["landmarks"].shape == (m, 18, 3)
    assert npz["betas"].shape == (m, 10) and npz["body_pose"].shape == (m, 23, 3)
    assert npz["global_orient"].shape == (m, 3) and npz["transl"].shape == (m, 3)
    assert npz["valid"].all()
    for key in ("joints", "landmarks", "betas", "global_orient", "body_pose", "transl"):
        assert np.isfinite(npz[key]).all(), key
    names = list(npz["joint_names"])
    for joints in npz["joints"]:
        check_person_joints(joints, names)
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["frontend"] == "hourglass"
    assert set(data["frames"][0]["people"][0]["smpl"]) == {"betas", "global_orient", "body_pose",
                                                           "transl"}


def test_unknown_frontend_cli_value_is_refused():
    proc = subprocess.run([sys.executable, "-m", "smplr_core.reconstruct", "x.mp4", "--out",
                           "x.npz", "--frontend", "voxels"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "--frontend" in proc.stderr


def test_launch_argument_reaches_the_reconstruct_node():
    (node,) = [n for n in build_commands(REPO / "launch" / "reconstruct.launch.py",
                                         {"frontend": "hourglass"}) if n.name == "reconstruct"]
    assert "frontend:=hourglass" in node.command


@pytest.mark.ros
def test_invalid_frontend_exits_at_startup_with_one_line():
    proc = run_node_until_exit("-p", "frontend:=voxels")
    assert_one_line_naming(proc, "'frontend'", "blazepose, hourglass", "got 'voxels'")


@pytest.mark.ros
def test_node_with_the_hourglass_publishes_people_and_keeps_the_frontend_fixed():
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    output = []
    with running_node("-p", "frontend:=hourglass", "-p", "max_people:=2",
                      probe_name="hourglass_probe", output=output) as (probe, node_proc):
        msg = probe.send_until_answered(sample_frame(), FRAME_TIMEOUT_S)
        assert msg is not None, "no People message answered a good frame"
        assert len(msg.people) >= 1
        for person in msg.people:
            assert person.has_3d and len(person.landmarks) == 18
            joints = np.array([[p.x, p.y, p.z] for p in person.joints])
            check_person_joints(joints, list(person.joint_names))
            assert np.isfinite(person.betas).all() and np.isfinite(person.body_pose).all()

        # Switching the lift needs other models: read-only, rejected with a reason.
        client = probe.node.create_client(SetParameters, "/reconstruct/set_parameters")
        assert client.wait_for_service(timeout_sec=10.0)
        request = SetParameters.Request(
            parameters=[Parameter("frontend", value="blazepose").to_parameter_msg()])
        future = client.call_async(request)
        probe.spin_until(future.done, 10.0)
        (result,) = future.result().results
        assert not result.successful and "read-only" in result.reason
        assert node_proc.poll() is None
    assert "frontend=hourglass" in output[0]


def test_hourglass_model_choice_loads_the_named_weights():
    from smplr_core.frame import Reconstructor

    medium = Reconstructor(frontend="hourglass", hourglass_model="medium")
    assert medium.lift.frontend.model.config.stacks == 3
    small = Reconstructor(frontend="hourglass", hourglass_model="small")
    assert (small.lift.frontend.model.config.stacks, small.lift.frontend.model.config.backbone) == (2, "image")
    default = Reconstructor(frontend="hourglass")
    assert default.lift.frontend.model.config.backbone == "blazepose"
    with pytest.raises(ValueError, match="hourglass_model"):
        Reconstructor(frontend="hourglass", hourglass_model="large")
