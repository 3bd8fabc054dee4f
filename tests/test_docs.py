"""The README and docs/ros.md tables list every parameter of the nodes (they are written by hand
next to the code that declares them; this keeps them from drifting apart)."""
from pathlib import Path

import pytest

from smplr_ros.params import RECONSTRUCT_PARAMS

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("doc", ["README.md", "docs/ros.md"])
def test_every_reconstruct_parameter_is_in_the_tables(doc):
    text = (REPO / doc).read_text()
    missing = [spec.name for spec in RECONSTRUCT_PARAMS if f"| `{spec.name}` |" not in text]
    assert not missing, f"{doc} has no table row for {missing}"


@pytest.mark.parametrize("doc", ["README.md", "docs/ros.md"])
def test_every_output_topic_is_in_the_tables(doc):
    text = (REPO / doc).read_text()
    for topic in ("/human_pose/people", "/human_pose/markers", "/human_pose/mesh", "/diagnostics"):
        assert f"| `{topic}` |" in text, (doc, topic)
