"""Package metadata that a ROS 2 build and pip rely on is real and consistent."""
import re
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_package_xml_is_format3_ament_cmake_with_messages():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "smplr_ros"
    assert root.find("export/build_type").text == "ament_cmake"
    deps = {e.text for e in root if e.tag.endswith("depend")}
    for needed in ["rclpy", "sensor_msgs", "visualization_msgs", "shape_msgs", "diagnostic_msgs",
                   "rosidl_default_generators", "rosidl_default_runtime", "ament_cmake_python"]:
        assert needed in deps, needed
    assert root.findtext("member_of_group") == "rosidl_interface_packages"


def test_cmake_generates_every_message_file():
    cmake = (REPO / "CMakeLists.txt").read_text()
    for msg in sorted((REPO / "msg").glob("*.msg")):
        assert f'"msg/{msg.name}"' in cmake, msg.name


def test_every_message_field_is_documented():
    for msg in sorted((REPO / "msg").glob("*.msg")):
        lines = msg.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() and not line.startswith("#"):
                assert lines[i - 1].startswith("#"), f"{msg.name}: field '{line}' has no comment above it"


def test_requirements_are_pinned():
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^\s]*", line), f"unpinned: {line}"


def test_core_imports_no_ros():
    for path in (REPO / "smplr_core").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(rclpy|sensor_msgs|std_msgs|smplr_ros)", text, re.M), path
