"""The package's own messages travel between two real processes over DDS (loopback profile)."""
import os

import pytest

from ros_helpers import spawn, spin_until, stop

pytestmark = pytest.mark.ros


def test_environment_keeps_dds_on_loopback():
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    profile = open(os.environ["FASTDDS_DEFAULT_PROFILES_FILE"]).read()
    assert "<useBuiltinTransports>false</useBuiltinTransports>" in profile
    assert "<address>127.0.0.1</address>" in profile
    assert os.environ["ROS_LOG_DIR"].startswith(os.environ["ROS_HOME"])


@pytest.mark.parametrize("given, policy", [({}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),
                                           ({"GOMP_SPINCOUNT": "300000"}, None)])
def test_environment_openmp_policy(given, policy):
    """ROS processes get sleeping OpenMP workers unless the user chose a wait policy or spin count."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import os; from smplr_ros import environment; environment.apply(); print(os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run([sys.executable, "-c", code], env={**env, **given}, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == str(policy)


def test_people_message_crosses_processes():
    import rclpy
    from smplr_ros.msg import People

    publisher = spawn(["tests/processes/people_publisher.py", "dds_test_people"])
    rclpy.init()
    node = rclpy.create_node("people_listener")
    received = []
    node.create_subscription(People, "dds_test_people", received.append, 10)
    try:
        assert spin_until(node, lambda: len(received) >= 3, timeout_s=20.0), \
            "no People message arrived from the publisher process:\n" + stop(publisher)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        stop(publisher)
    msg = received[-1]
    assert msg.header.frame_id == "camera_optical"
    assert msg.header.stamp.sec >= 1
    (person,) = msg.people
    assert person.id == 7 and person.has_3d
    assert list(person.joint_names) == ["pelvis", "left_hip"]
    assert person.joints[1].z == pytest.approx(3.1)
    assert person.betas[0] == pytest.approx(1.5)
    assert person.body_pose[68] == pytest.approx(-0.25)
    assert person.translation.z == pytest.approx(3.0)
