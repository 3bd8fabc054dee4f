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


# The README's "Measured figures" table: for each row whose source is a bench/results JSON file, its
# headline figures (the value column before any parenthesis or semicolon), in order, and the keys
# they come from.
README_FIGURES = {
    "body model forward": ("body", ["forward_ms_b1", "forward_ms_b64"]),
    "DAE + SMPLR + body decode": ("core", ["latency_ms_b1", "latency_ms_b8", "latency_ms_b64"]),
    "same on one H100": ("core_cuda", ["latency_ms_b1", "latency_ms_b64", "latency_ms_b512"]),
    "training samples generated": ("core", ["samples_per_s"]),
    "SMPLR from clean 3D": ("core", ["eval.smplr_gt3d.mpjpe_mm", "eval.smplr_gt3d.pa_mpjpe_mm",
                                     "eval.smplr_gt3d.pve_mm"]),
    "same, held-out mocap actors (": ("core", ["eval.smplr_gt3d_heldout_actors.mpjpe_mm",
                                              "eval.smplr_gt3d_heldout_actors.pa_mpjpe_mm",
                                              "eval.smplr_gt3d_heldout_actors.pve_mm"]),
    "same, held-out mocap actors, mean": ("core", ["eval.dae_smplr_noisy2d_heldout_actors.mpjpe_mm",
                                                   "eval.dae_smplr_noisy2d_heldout_actors.pa_mpjpe_mm",
                                                   "eval.dae_smplr_noisy2d_heldout_actors.pve_mm"]),
    "motion capture the core was trained on": ("core", ["motion_minutes_train"]),
    "same from joints only": ("core", ["eval.smplr_joints_only_gt3d.mpjpe_mm",
                                       "eval.smplr_joints_only_gt3d.pve_mm"]),
    "DAE → SMPLR from noisy 2D": ("core", ["eval.dae_smplr_noisy2d.mpjpe_mm", "eval.dae_smplr_noisy2d.pa_mpjpe_mm",
                                           "eval.dae_smplr_noisy2d.pve_mm"]),
    "BlazePose port, one person": ("frontend", ["rows.single_1thread.median_ms", "rows.single.median_ms"]),
    "reference runtime": ("frontend", ["rows.reference_single_1thread.median_ms", "rows.reference_single.median_ms"]),
    "BlazePose port, four people": ("frontend", ["rows.4people_1thread.median_ms", "rows.4people.median_ms"]),
    "people found in vtest.avi": ("frontend", ["vtest_recall"]),
    "left/right swaps injected": ("frontend", ["synthetic_swap_corrected", "synthetic_swap_wrongly_corrected"]),
    "mirrored facing on real video": ("frontend", ["leftright.real.sports2d_demo.off.per_100",
                                                   "leftright.real.sports2d_demo.on.per_100",
                                                   "lr_flips_per_100_track_frames"]),
    "people found on blank and noise frames": ("frontend", ["false_people_per_blank_frame",
                                                           "vtest_false_people_per_frame"]),
    "pelvis depth error from noisy 2D": ("frontend", ["root_depth_error_pct_median"]),
    "people found in the sample video": ("frontend", ["sample_video_recall"]),
    "node over DDS": ("node", ["fps"]),
    "node latency": ("node", ["latency_ms_p50", "latency_ms_p95"]),
    "node with `/human_pose/markers`": ("node", ["markers_subscribed.fps", "markers_subscribed.latency_ms_p50"]),
    "node, four people": ("node", ["four_people.fps"]),
    "accurate preset (`preset:=accurate`": ("node", ["accurate.fps", "accurate.latency_ms_p50"]),
    "accurate vs fast preset": ("frontend", ["presets.renders.accurate.mpjpe_mm", "presets.renders.fast.mpjpe_mm"]),
    "node, 3840×2159": ("node", ["large_frames_4k.fps", "large_frames_4k.latency_ms_p50"]),
    "node's message work": ("node", ["message_costs.people_build_ms_p50", "message_costs.people_serialise_ms_p50",
                                     "message_costs.markers_ms_p50", "message_costs.mesh_ms_p50"]),
    "node soak": ("soak", ["rss_slope_mb_per_min", "rss_slope_from_minute"]),
    "synthetic renders": ("hourglass", ["render_images_per_s_2cores", "render_images_per_s_1core"]),
    "hourglass (real, the default": ("hourglass", ["mpjpe_mm", "pa_mpjpe_mm", "pve_mm"]),
    "hourglass (real) on the sample": ("hourglass", ["real_video.orientation_agreement", "real_video.upright"]),
    "hourglass (real) forward": ("hourglass", ["forward_ms_cpu_b1"]),
}


def _figure_rows() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    table = text[text.index("| figure | value |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if ".json" in cells[3]:
            rows[cells[0]] = cells[1]
    return rows


def test_every_readme_figure_is_its_bench_json_value():
    import json
    import re

    rows = _figure_rows()
    assert len(rows) == len(README_FIGURES), "a README figure row without its JSON keys here (or the reverse)"
    for label, value in rows.items():
        (prefix,) = [p for p in README_FIGURES if label.startswith(p)]
        name, keys = README_FIGURES[prefix]
        data = json.loads((REPO / "bench" / "results" / f"{name}.json").read_text())
        headline = re.split(r"[(;]", value)[0].replace("**", "")
        shown = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", headline)  # not the 50 of "p50"
        assert len(shown) == len(keys), (label, shown, keys)
        for text, key in zip(shown, keys):
            measured = data
            for part in key.split("."):
                measured = measured[part]
            # as rounded in the README: 0.79 to 2 decimals, 47,000 to the thousand
            step = 1000.0 if "," in text else 10.0 ** -len(text.partition(".")[2])
            assert abs(float(text.replace(",", "")) - measured) <= step / 2 + 1e-9, \
                f"README '{label}': {text} but {name}.json {key} = {measured}"


def test_readme_states_the_suites_test_count():
    import re
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    collected = int(re.search(r"(\d+)(?:/\d+)? tests? collected", proc.stdout).group(1))
    stated = re.search(r"`bash scripts/test.sh` runs (\d+) tests", (REPO / "README.md").read_text())
    assert stated, "README does not state the test count as '`bash scripts/test.sh` runs N tests'"
    assert int(stated.group(1)) == collected
