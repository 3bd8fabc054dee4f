"""Soak test of the node: the looped sample video at 30 Hz for a long time, markers and mesh subscribed.

    .venv/bin/python bench/soak.py [--minutes 30] [--sample-s 60]

Not part of the test suite (it runs for half an hour by default). The graph of bench/node.py
(launch/reconstruct.launch.py through the project's runner, 640x480 frames, ``image_reliable``)
runs while this process subscribes to ``/human_pose/people``, ``/human_pose/markers`` and
``/human_pose/mesh`` (the last two raw, as RViz would) and ``/diagnostics``. Every ``--sample-s``
seconds it records the reconstruct process's resident memory (VmRSS), the People messages per
second, and the node's error counters. Writes bench/results/soak.json: the samples, the RSS slope
in MB per minute (least squares over the samples after the first, which includes start-up
growth, and over the second half of the run alone: memory that settles after a few steps has a
positive whole-run slope but none at the end), the processed rate per sample, the errors, and the
machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.node import FRAMES_DIR, _stop, find_node_pid, prepare_frames  # noqa: E402
from smplr_ros import environment  # noqa: E402

RESULT = REPO / "bench" / "results" / "soak.json"
SOAK_DOMAIN_ID = 78
TARGET_SLOPE_MB_PER_MIN = 0.5


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def _slope(samples: list[dict]) -> float:
    if len(samples) < 2:
        return float("nan")
    return round(float(np.polyfit([s["minute"] for s in samples],
                                  [s["rss_mb"] for s in samples], 1)[0]), 3)


def rss_slopes(samples: list[dict]) -> dict:
    """RSS slopes in MB/min: after the first sample, and over the second half of the samples."""
    later = samples[1:] if len(samples) > 2 else samples
    return {"rss_slope_mb_per_min": _slope(later),
            "rss_slope_from_minute": later[0]["minute"] if later else None,
            "rss_slope_second_half_mb_per_min": _slope(samples[len(samples) // 2:]),
            "rss_slope_second_half_from_minute": (samples[len(samples) // 2]["minute"]
                                                  if samples else None)}


def soak(minutes: float, sample_s: float, rate_hz: float) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from shape_msgs.msg import Mesh
    from visualization_msgs.msg import MarkerArray

    from smplr_ros.msg import People

    runner = subprocess.Popen(
        [sys.executable, "-m", "smplr_ros.launch_graph", "launch/reconstruct.launch.py",
         f"video:={FRAMES_DIR}", f"rate:={rate_hz:.3f}", "loop:=true"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    rclpy.init()
    node = rclpy.create_node("soak_bench")
    counts = {"people": 0, "markers": 0, "mesh": 0}
    diag = {}

    def count(key):
        def on_message(_msg):
            counts[key] += 1
        return on_message

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name.endswith("reconstruct"):
                diag.update({kv.key: kv.value for kv in status.values},
                            level=int.from_bytes(status.level, "little"), message=status.message)

    node.create_subscription(People, "/human_pose/people", count("people"), 50)
    node.create_subscription(MarkerArray, "/human_pose/markers", count("markers"), 2, raw=True)
    node.create_subscription(Mesh, "/human_pose/mesh", count("mesh"), 2, raw=True)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    samples = []
    try:
        deadline = time.monotonic() + 300.0
        while not counts["people"] and time.monotonic() < deadline and runner.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.1)
        if not counts["people"]:
            raise RuntimeError("the graph produced no People message:\n" + _stop(runner))
        pid = find_node_pid(runner.pid, "nodes/reconstruct")
        start = time.monotonic()
        last = dict(counts, t=start)
        levels = []
        while time.monotonic() < start + 60.0 * minutes and runner.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.05)
            if diag.get("level") is not None:
                levels.append(diag.pop("level"))
            now = time.monotonic()
            if now - last["t"] >= sample_s:
                dt = now - last["t"]
                samples.append({
                    "minute": round((now - start) / 60.0, 2),
                    "rss_mb": round(rss_mb(pid), 1),
                    "people_per_s": round((counts["people"] - last["people"]) / dt, 2),
                    "markers_per_s": round((counts["markers"] - last["markers"]) / dt, 2),
                    "mesh_per_s": round((counts["mesh"] - last["mesh"]) / dt, 2),
                    "errors": int(diag.get("errors", 0)),
                    "bad_frames": int(diag.get("bad_frames", 0)),
                    "frames_lost": int(diag.get("frames_lost", 0)),
                    "frames_dropped": int(diag.get("frames_dropped", 0)),
                    "diagnostics_not_ok": sum(1 for lv in levels if lv != 0),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                })
                levels = []
                print(json.dumps(samples[-1]), flush=True)
                last = dict(counts, t=now)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        log = _stop(runner)
    if runner.returncode not in (0, None) and not samples:
        raise RuntimeError("the graph stopped early:\n" + log)
    return {
        "minutes": round(samples[-1]["minute"], 2) if samples else 0.0,
        "minutes_requested": minutes,
        "sample_s": sample_s,
        "input_rate_hz": rate_hz,
        **rss_slopes(samples),
        "rss_mb_first": samples[0]["rss_mb"] if samples else None,
        "rss_mb_last": samples[-1]["rss_mb"] if samples else None,
        "people_per_s_mean": round(float(np.mean([s["people_per_s"] for s in samples])), 2)
        if samples else 0.0,
        "errors": samples[-1]["errors"] if samples else None,
        "bad_frames": samples[-1]["bad_frames"] if samples else None,
        "frames_lost": samples[-1]["frames_lost"] if samples else None,
        "target": {"rss_slope_mb_per_min": f"<= {TARGET_SLOPE_MB_PER_MIN}"},
        "samples": samples,
        "node_log_tail": log.strip().splitlines()[-6:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run")
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=30.0, help="input rate in Hz")
    parser.add_argument("--out", type=Path, default=RESULT, help="result file")
    parser.add_argument("--note", default="", help="free text stored with the result (e.g. what "
                        "else ran on the machine)")
    args = parser.parse_args()
    environment.apply(domain_id=SOAK_DOMAIN_ID)
    prepare_frames()
    load_before = os.getloadavg()[0]
    result = soak(args.minutes, args.sample_s, args.rate)
    result.update(cpu_cores=os.cpu_count(), load_average_1min_before=round(load_before, 2),
                  note=args.note, command=" ".join(["bench/soak.py"] + sys.argv[1:]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['minutes']:.1f} min: RSS {result['rss_mb_first']} -> {result['rss_mb_last']} MB, "
          f"slope {result['rss_slope_mb_per_min']} MB/min (target <= {TARGET_SLOPE_MB_PER_MIN}; "
          f"second half {result['rss_slope_second_half_mb_per_min']}), "
          f"{result['people_per_s_mean']} People/s, errors {result['errors']} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
