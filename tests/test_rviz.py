"""config/*.rviz shows only topics, with their message types, that the graph's nodes publish.

The nodes' publishers are read from their code (``create_publisher(Type, topic, ...)``); the
install-space test (test_distro.py) checks the same pairs on the running graph over DDS."""
import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RVIZ_FILES = sorted((REPO / "config").glob("*.rviz"))
# RViz 2 display class -> the message type it subscribes to
DISPLAY_TYPES = {
    "rviz_default_plugins/Image": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Camera": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Marker": "visualization_msgs/msg/Marker",
    "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
    "rviz_default_plugins/PointCloud2": "sensor_msgs/msg/PointCloud2",
    "rviz_default_plugins/Pose": "geometry_msgs/msg/PoseStamped",
}
# The nodes a graph of the launch file runs, and the camera stand-in that provides /image.
NODE_FILES = [REPO / "smplr_ros" / "reconstruct_node.py", REPO / "smplr_ros" / "video_source_node.py"]


def rviz_topics(path: Path) -> list[tuple[str, str]]:
    """(topic, message type) of every enabled or disabled display with a topic, groups included."""
    out = []

    def walk(displays):
        for d in displays or []:
            if "Topic" in d:
                cls = d["Class"]
                assert cls in DISPLAY_TYPES, f"{path.name}: display class {cls} has no known message type"
                out.append((d["Topic"]["Value"], DISPLAY_TYPES[cls]))
            walk(d.get("Displays"))

    walk(yaml.safe_load(path.read_text())["Visualization Manager"]["Displays"])
    return out


def published_topics() -> set[tuple[str, str]]:
    """(topic, type) of every ``create_publisher`` call in the nodes' code, relative names resolved
    in the root namespace without remapping (as the launch file's defaults leave them)."""
    found = set()
    for path in NODE_FILES:
        tree = ast.parse(path.read_text())
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) for t in n.targets if isinstance(t, ast.Name)}
        msg_types = {a.asname or a.name: f"{n.module.replace('.', '/')}/{a.name}"
                     for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                     and n.module.endswith(".msg") for a in n.names}
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "create_publisher":
                type_arg, topic_arg = call.args[:2]
                topic = topic_arg.value if isinstance(topic_arg, ast.Constant) else constants[topic_arg.id]
                found.add(("/" + topic.lstrip("/"), msg_types[type_arg.id]))
    return found


def test_published_topics_are_read_from_the_node_code():
    topics = published_topics()
    assert ("/human_pose/people", "smplr_ros/msg/People") in topics
    assert ("/image", "sensor_msgs/msg/Image") in topics and len(topics) >= 6


@pytest.mark.parametrize("path", RVIZ_FILES, ids=lambda p: p.name)
def test_rviz_config_names_only_published_topics_and_types(path):
    shown = rviz_topics(path)
    assert shown, f"{path.name} shows no topic"
    unpublished = [pair for pair in shown if pair not in published_topics()]
    assert unpublished == [], f"{path.name} shows topics nobody publishes: {unpublished}"


def test_a_wrong_type_or_topic_is_caught(tmp_path):
    text = RVIZ_FILES[0].read_text()
    wrong = tmp_path / "wrong.rviz"
    wrong.write_text(text.replace("rviz_default_plugins/MarkerArray", "rviz_default_plugins/Marker"))
    assert any(pair not in published_topics() for pair in rviz_topics(wrong))
    wrong.write_text(text.replace("/human_pose/markers", "/human_pose/marker"))
    assert any(pair not in published_topics() for pair in rviz_topics(wrong))
