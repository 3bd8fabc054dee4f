"""What the reconstruct node writes to its log when its intrinsics input is bad: one WARN line per
reason, however often the bad input arrives (a node of its own, so that its whole log is read)."""
import math

import pytest

from node_helpers import running_node, sample_frame

pytestmark = pytest.mark.ros


def test_bad_camera_info_and_parameters_each_give_one_warn_line():
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import CameraInfo

    rgb = sample_frame()
    h, w = rgb.shape[:2]
    output = []
    with running_node("-p", "max_people:=1", probe_name="log_probe", output=output) as (probe, _):
        assert probe.send_until_answered(rgb) is not None
        bad = CameraInfo(width=w, height=h, k=[500.0, 0.0, math.nan, 0.0, 500.0, h / 2, 0, 0, 1])
        for _ in range(10):   # a camera sends its camera_info with every frame
            bad.header = probe.header()
            probe.info_pub.publish(bad)
            probe.spin_for(0.1)
        assert probe.send_until_answered(rgb) is not None, "a frame was lost to the bad camera_info"
        # Parameters are checked the same way (no camera_info accepted yet, so they are in use).
        client = probe.node.create_client(SetParameters, "/reconstruct/set_parameters")
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(SetParameters.Request(
            parameters=[Parameter("fx", value=1e-6).to_parameter_msg()]))
        probe.spin_until(future.done, 10.0)
        assert future.result().results[0].successful
        for _ in range(3):
            assert probe.send_until_answered(rgb) is not None
    lines = output[0].splitlines()
    info = [line for line in lines if "camera_info rejected" in line]
    assert len(info) == 1, info
    assert info[0].startswith("[WARN]") and "K[2] (cx) is nan" in info[0]
    assert "using the parameters fx, fy, cx, cy" in info[0]
    params = [line for line in lines if "parameters rejected" in line]
    assert len(params) == 1, params
    assert params[0].startswith("[WARN]") and "fx = 1e-06 px is outside" in params[0]
    assert "using the default intrinsics" in params[0]
