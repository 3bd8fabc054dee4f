"""Benchmark of the ROS graph over DDS: video_source -> reconstruct, measured from a third process.

    .venv/bin/python bench/node.py [--seconds 25] [--frontend-model full]

The sample video (one person walking) is letterboxed to 640x480 once (.work/assets/media/
sports2d_640x480/). The graph from launch/reconstruct.launch.py (through the project's runner)
publishes it in a loop; this process subscribes to ``image`` and ``/human_pose/people`` and
measures, after a warm-up:
  fps             People messages per second
  latency_ms      image header stamp -> People received (p50, p95)
  cpu_percent     CPU time of the reconstruct process / wall time (100 = one core)
  dropped_frames  images the node skipped (newest frame wins; from its /diagnostics)
The launch file runs the node with ``image_reliable`` (reliable keep-last-1 input) because it
starts its own source; see docs/ros.md, "Image size and DDS".
Run 1 feeds the video's own rate (30 Hz); run 2 feeds twice the rate run 1 sustained, to show that
latency stays flat (no backlog): p50 of the first and second half of run 2 are reported.
Run 3 (``markers_subscribed``) is run 1 with this process also subscribed to
``/human_pose/markers`` and ``/human_pose/mesh``, as RViz is (raw subscriptions: the bytes are
counted, not turned into Python objects, as a C++ RViz would not pay for them either).
Run 4 (``four_people``) feeds the sample video as a 2x2 grid (each quadrant a 320x240 copy of
it, a quarter of the video apart, so five to eight people are in view; 640x480), looped at 30 Hz
with markers and mesh subscribed; ``max_people`` is 4, and four are tracked once the detector's
tiles have been swept (vtest.avi's crowd frames kept only two to three of its pedestrians
tracked, too small for the whole-image detector). Run 5 (``large_frames_4k``) feeds the sample video resized to
3840x2159 rgb8 (24.9 MB a frame) at 5 Hz.
Run 7 (``hourglass``) is run 1 with ``frontend:=hourglass`` (the default ``real`` network).
Run 8 (``accurate``) is run 1 with ``preset:=accurate`` (BlazePose heavy checks one person's
left/right labels every 4th frame; smplr_core/frontends/labelcheck.py), written as ``accurate``.
Run 6 (``messages``, in this process, no DDS) times what the node does for a frame besides
inference, on the 2x2 grid frames: the People message (build and serialise), the marker array and
the mesh (serialised from the arrays), per frame, with the number of people.
Writes bench/results/node.json and prints one table; ``--runs`` picks runs (the others' entries
in node.json are kept).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smplr_ros import environment  # noqa: E402

SAMPLE = REPO / ".work" / "assets" / "media" / "sports2d_demo.mp4"
GRID_DIR = REPO / ".work" / "assets" / "media" / "sports2d_grid_640x480"
FRAMES_DIR = REPO / ".work" / "assets" / "media" / "sports2d_640x480"
RESULT = REPO / "bench" / "results" / "node.json"
SIZE = (640, 480)
NATIVE_RATE_HZ = 30.0
WARMUP_S = 20.0   # the front-end optimises its graphs for each new batch size during the first frames
BENCH_DOMAIN_ID = 77


def prepare_frames() -> Path:
    """Letterbox every sample-video frame to 640x480 JPEGs (once)."""
    import cv2

    from smplr_core.reconstruct import iter_frames

    if FRAMES_DIR.is_dir() and any(FRAMES_DIR.glob("*.jpg")):
        return FRAMES_DIR
    if not SAMPLE.is_file():
        raise SystemExit(f"{SAMPLE} missing: run scripts/setup.sh")
    FRAMES_DIR.mkdir(parents=True, exist_ok=True)
    for index, rgb in iter_frames(SAMPLE, SIZE[0]):
        pad = SIZE[1] - rgb.shape[0]
        framed = np.pad(rgb, ((pad // 2, pad - pad // 2), (0, 0), (0, 0)))
        cv2.imwrite(str(FRAMES_DIR / f"{index:05d}.jpg"), cv2.cvtColor(framed, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    return FRAMES_DIR


def prepare_grid_frames() -> Path:
    """The 640x480 sample frames as a 2x2 grid of 320x240 copies a quarter of the video apart
    (once): a scene with several people for the four-people run."""
    import cv2

    if GRID_DIR.is_dir() and any(GRID_DIR.glob("*.jpg")):
        return GRID_DIR
    frames = sorted(prepare_frames().glob("*.jpg"))
    small = [cv2.resize(cv2.imread(str(f)), (SIZE[0] // 2, SIZE[1] // 2)) for f in frames]
    GRID_DIR.mkdir(parents=True, exist_ok=True)
    n = len(small)
    for k in range(n):
        q = [small[(k + i * n // 4) % n] for i in range(4)]
        cv2.imwrite(str(GRID_DIR / f"{k:05d}.jpg"),
                    np.vstack([np.hstack(q[:2]), np.hstack(q[2:])]),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    return GRID_DIR


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def find_node_pid(runner_pid: int, executable: str) -> int | None:
    for child in children(runner_pid):
        try:
            if executable in Path(f"/proc/{child}/cmdline").read_text():
                return child
        except OSError:
            pass
    return None


def measure(rate_hz: float, seconds: float, frontend_model: str, params_file: str = "",
            video: Path = FRAMES_DIR, width: int = 0, markers: bool = False,
            warmup_s: float = WARMUP_S, frontend: str = "blazepose", preset: str = "fast") -> dict:
    """Run the graph at ``rate_hz`` for ``seconds`` after warm-up; return the measurements.
    ``markers``: also subscribe to the markers and the mesh (as RViz does)."""
    import rclpy

    from diagnostic_msgs.msg import DiagnosticArray
    from shape_msgs.msg import Mesh
    from visualization_msgs.msg import MarkerArray

    from smplr_ros.msg import People

    runner = subprocess.Popen(
        [sys.executable, "-m", "smplr_ros.launch_graph", "launch/reconstruct.launch.py",
         f"video:={video}", f"rate:={rate_hz:.3f}", "loop:=true", f"width:={width}",
         f"frontend_model:={frontend_model}", f"frontend:={frontend}", f"preset:={preset}"]
        + ([f"params_file:={params_file}"] if params_file else []),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    rclpy.init()
    node = rclpy.create_node("node_bench")
    people = []

    def on_people(msg):
        now = node.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        people.append((time.monotonic(), (now - stamp) / 1e6, len(msg.people),
                       float(msg.processing_ms)))

    node.create_subscription(People, "/human_pose/people", on_people, 50)
    visual = {"markers": [0, 0], "mesh": [0, 0]}   # messages, bytes

    def counter(key):
        def on_raw(data: bytes):
            visual[key][0] += 1
            visual[key][1] += len(data)
        return on_raw

    if markers:
        node.create_subscription(MarkerArray, "/human_pose/markers", counter("markers"), 2,
                                 raw=True)
        node.create_subscription(Mesh, "/human_pose/mesh", counter("mesh"), 2, raw=True)
    counters = {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name.endswith("reconstruct"):
                counters.update({kv.key: kv.value for kv in status.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    try:
        deadline = time.monotonic() + 300.0
        while not people and time.monotonic() < deadline and runner.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.1)
        if not people:
            raise RuntimeError("the graph produced no People message:\n" + _stop(runner))
        end_warmup = time.monotonic() + warmup_s
        while time.monotonic() < end_warmup:
            rclpy.spin_once(node, timeout_sec=0.05)
        pid = find_node_pid(runner.pid, "nodes/reconstruct")
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        n_people0 = len(people)
        visual0 = {k: list(v) for k, v in visual.items()}
        node0 = dict(counters)
        while time.monotonic() < t0 + seconds:
            rclpy.spin_once(node, timeout_sec=0.05)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        end_wait = time.monotonic() + 1.5   # one more diagnostics period
        while time.monotonic() < end_wait:
            rclpy.spin_once(node, timeout_sec=0.05)
        node1 = dict(counters)
        window = people[n_people0:]
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        log = _stop(runner)
    lat = np.array([w[1] for w in window])
    half = len(lat) // 2
    received = int(node1.get("frames_received", 0)) - int(node0.get("frames_received", 0))
    return {
        # Frames that reached the node (its /diagnostics counters) per second.
        "input_rate_hz": round(received / (t1 - t0), 2),
        "fps": round(len(window) / (t1 - t0), 2),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
        "latency_ms_p50_first_half": round(float(np.percentile(lat[:half], 50)), 1),
        "latency_ms_p50_second_half": round(float(np.percentile(lat[half:], 50)), 1),
        # Node-internal: frame received by the node -> People published (includes the wait for
        # the worker to finish the previous frame).
        "processing_ms_p50": round(float(np.percentile([w[3] for w in window], 50)), 1),
        # Front-end + DAE/SMPLR/body model only (the node's /diagnostics, last 100 frames).
        "inference_ms_p50": float(node1.get("inference_ms_p50", "nan")),
        "cpu_percent": round(100.0 * (cpu1 - cpu0) / (t1 - t0), 1),
        # Frames the node received but skipped because a newer one arrived (newest frame wins).
        "dropped_frames": int(node1.get("frames_dropped", 0)) - int(node0.get("frames_dropped", 0)),
        "node_frames_received": received,
        "frames_measured": len(window),
        "people_per_frame": round(float(np.mean([w[2] for w in window])), 2),
        "seconds": round(t1 - t0, 1),
        "node_log_tail": log.strip().splitlines()[-4:],
    } | ({f"{k}_per_s": round((visual[k][0] - visual0[k][0]) / (t1 - t0), 2) for k in visual}
         | {f"{k}_mb_per_msg": round((visual[k][1] - visual0[k][1]) / 1e6
                                     / max(1, visual[k][0] - visual0[k][0]), 3) for k in visual}
         if markers else {})


def message_costs(frames: int = 90, frontend_model: str = "full") -> dict:
    """Median milliseconds per frame of the node's message work (no DDS), 2x2 grid frames."""
    import cv2
    import torch
    from rclpy.serialization import serialize_message
    from std_msgs.msg import Header

    from smplr_core.body.joint_names import SMPL_PARENTS
    from smplr_core.frame import FrameSettings, Reconstructor
    from smplr_core.reconstruct import default_intrinsics, name_tables
    from smplr_ros import markers

    torch.set_num_threads(1)
    rec = Reconstructor(frontend_model, settings=FrameSettings(max_people=4))
    rec.warm_up()
    tracks = markers.MarkerTracks(rec.faces, SMPL_PARENTS)
    mesh = markers.MeshBuilder(rec.faces)
    names = name_tables()
    times = {k: [] for k in ("inference", "people_build", "people_serialise", "markers", "mesh")}
    people = []
    paths = sorted(prepare_grid_frames().glob("*.jpg"))
    for k in range(frames):
        rgb = cv2.cvtColor(cv2.imread(str(paths[k % len(paths)])), cv2.COLOR_BGR2RGB)
        t0 = time.perf_counter()
        result = rec(rgb, default_intrinsics(*SIZE), stamp_s=k / NATIVE_RATE_HZ)
        t1 = time.perf_counter()
        msg = markers.people_message(Header(), result, names, *SIZE, 0.0)
        t2 = time.perf_counter()
        serialize_message(msg)
        t3 = time.perf_counter()
        tracks.frame(Header(), result, 4)
        t4 = time.perf_counter()
        if len(result):
            mesh(result.vertices[0])
        t5 = time.perf_counter()
        if k >= frames // 3:   # tracking settled (the detector's tiles swept)
            for key, a, b in zip(times, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
                times[key].append(1000.0 * (b - a))
            people.append(len(result))
    return {f"{k}_ms_p50": round(float(np.median(v)), 2) for k, v in times.items()} | {
        "people_per_frame": round(float(np.mean(people)), 2), "frames": len(people),
        "mesh_faces": int(rec.faces.shape[0]), "marker_mesh_decimation": 4}


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


RUNS = ("native", "overload", "markers", "four_people", "4k", "messages", "hourglass", "accurate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="measured seconds per run")
    parser.add_argument("--frontend-model", default="full", choices=("lite", "full", "heavy"))
    parser.add_argument("--params-file", default="",
                        help="parameters file for the graph (default: config/params.yaml)")
    parser.add_argument("--runs", default=",".join(RUNS),
                        help=f"comma-separated runs out of {', '.join(RUNS)} (default: all); "
                             "node.json keeps the entries of the others")
    args = parser.parse_args()
    runs = [r for r in args.runs.split(",") if r]
    unknown = sorted(set(runs) - set(RUNS))
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(RUNS)}")
    environment.apply(domain_id=BENCH_DOMAIN_ID)
    prepare_frames()
    load_before = os.getloadavg()
    result = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    common = dict(seconds=args.seconds, frontend_model=args.frontend_model,
                  params_file=args.params_file)
    rows = []
    if "native" in runs or "overload" in runs:
        native = measure(NATIVE_RATE_HZ, **common)
        rows.append(("native 30 Hz", native))
        result.update({
            "fps": native["fps"], "latency_ms_p50": native["latency_ms_p50"],
            "latency_ms_p95": native["latency_ms_p95"], "cpu_percent": native["cpu_percent"],
            "dropped_frames": native["dropped_frames"], "native_rate": native})
    if "overload" in runs:
        overload = measure(max(2.0 * native["fps"], 1.0), **common)
        rows.append(("2x sustainable rate", overload))
        result["twice_sustainable_rate"] = overload
    if "markers" in runs:
        rows.append(("markers+mesh subscribed", measure(NATIVE_RATE_HZ, markers=True, **common)))
        result["markers_subscribed"] = rows[-1][1]
    if "four_people" in runs:
        rows.append(("2x2 grid, markers+mesh", measure(NATIVE_RATE_HZ, video=prepare_grid_frames(),
                                                        markers=True, **common)))
        result["four_people"] = rows[-1][1]
    if "4k" in runs:
        rows.append(("3840x2159 at 5 Hz", measure(5.0, video=SAMPLE, width=3840, **common)))
        result["large_frames_4k"] = rows[-1][1] | {"image_size": [3840, 2159]}
    if "hourglass" in runs:
        rows.append(("frontend:=hourglass 30 Hz", measure(NATIVE_RATE_HZ, frontend="hourglass", **common)))
        result["hourglass"] = rows[-1][1] | {"hourglass_model": "real"}
    if "accurate" in runs:
        rows.append(("preset accurate, 30 Hz", measure(NATIVE_RATE_HZ, preset="accurate", **common)))
        result["accurate"] = rows[-1][1] | {"preset": "accurate",
                                            "load_average_1min_before": round(os.getloadavg()[0], 2)}
    if "messages" in runs:
        result["message_costs"] = message_costs(frontend_model=args.frontend_model)
        print("message work per frame (ms, p50):", result["message_costs"])
    result.update({
        "image_size": list(SIZE), "frontend_model": args.frontend_model,
        "cpu_cores": os.cpu_count(),
        "targets": {"fps": ">= 25", "latency_ms_p50": "<= 50", "cores": 2,
                    "markers_subscribed.fps": ">= 25", "markers_subscribed.latency_ms_p50": "<= 35",
                    "four_people.fps": ">= 20", "accurate.fps": ">= 20"},
        "image_qos": "reliable, keep last 1 (image_reliable, set by the launch file)",
        "params_file": args.params_file or "config/params.yaml",
        "runs_in_last_invocation": runs,
    })
    if "native" in runs:  # the load the headline figures (fps, latency) were taken under
        result["load_average_1min_before"] = round(load_before[0], 2)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'run':<26}{'input Hz':>9}{'fps':>7}{'p50 ms':>8}{'p95 ms':>8}{'1st/2nd half p50':>18}"
          f"{'cpu %':>7}{'dropped':>8}{'people':>7}")
    for name, r in rows:
        print(f"{name:<26}{r['input_rate_hz']:>9.1f}{r['fps']:>7.1f}{r['latency_ms_p50']:>8.1f}"
              f"{r['latency_ms_p95']:>8.1f}{r['latency_ms_p50_first_half']:>9.1f}/"
              f"{r['latency_ms_p50_second_half']:<8.1f}{r['cpu_percent']:>7.1f}"
              f"{r['dropped_frames']:>8d}{r['people_per_frame']:>7.2f}")
    print(f"({args.frontend_model} front-end, {os.cpu_count()} cores, load average "
          f"{load_before[0]:.1f} before the run) -> {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
