"""One table of the headline figures of every benchmark, read from bench/results/*.json.

    .venv/bin/python bench/summary.py            # after running the bench/*.py scripts

Writes bench/results/summary.json. Each row names the JSON file and key it comes from, so a
figure quoted in the README can be traced to the command that produced it.
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# (label, file, key path, unit, target as (comparison, value) or None); a target value given as a
# string is another key path of the same file (a figure measured in the same run).
ROWS = [
    ("body model forward, batch 1", "body", "forward_ms_b1", "ms", ("<=", 2.0)),
    ("body model forward, batch 64", "body", "forward_ms_b64", "ms", ("<=", 20.0)),
    ("training samples generated", "core", "samples_per_s", "1/s", (">=", 20000)),
    ("DAE+SMPLR+body, batch 1", "core", "latency_ms_b1", "ms", ("<=", 3.0)),
    ("DAE+SMPLR+body, batch 64", "core", "latency_ms_b64", "ms", None),
    ("SMPLR from clean 3D: MPJPE", "core", "eval.smplr_gt3d.mpjpe_mm", "mm", ("<=", 10.0)),
    ("SMPLR from clean 3D: PVE", "core", "eval.smplr_gt3d.pve_mm", "mm", ("<=", 15.0)),
    ("SMPLR joints only (ablation): PVE", "core", "eval.smplr_joints_only_gt3d.pve_mm", "mm", None),
    ("DAE->SMPLR noisy 2D: MPJPE", "core", "eval.dae_smplr_noisy2d.mpjpe_mm", "mm", ("<=", 55.0)),
    ("DAE->SMPLR noisy 2D: PA-MPJPE", "core", "eval.dae_smplr_noisy2d.pa_mpjpe_mm", "mm", ("<=", 40.0)),
    ("SMPLR from clean 3D, held-out actors: MPJPE", "core", "eval.smplr_gt3d_heldout_actors.mpjpe_mm", "mm",
     ("<=", 10.0)),
    ("SMPLR from clean 3D, held-out actors: PVE", "core", "eval.smplr_gt3d_heldout_actors.pve_mm", "mm", ("<=", 15.0)),
    ("DAE->SMPLR noisy 2D, held-out actors: MPJPE", "core", "eval.dae_smplr_noisy2d_heldout_actors.mpjpe_mm", "mm",
     ("<=", 65.0)),
    ("DAE->SMPLR noisy 2D, held-out actors: PA-MPJPE", "core", "eval.dae_smplr_noisy2d_heldout_actors.pa_mpjpe_mm",
     "mm", ("<=", 45.0)),
    ("motion the core was trained on", "core", "motion_minutes_train", "min", (">=", 50.0)),
    ("front-end single person (tracking)", "frontend", "latency_ms_single", "ms", ("<=", 15.0)),
    ("front-end single person, against the reference", "frontend", "latency_ms_single", "ms",
     ("<=", "reference_latency_ms_single")),
    ("front-end reference runtime, same frames", "frontend", "reference_latency_ms_single", "ms", None),
    ("front-end four people", "frontend", "latency_ms_4people", "ms", None),
    ("vtest recall", "frontend", "vtest_recall", "", (">=", 0.8)),
    ("node throughput", "node", "fps", "fps", (">=", 25.0)),
    ("node latency p50 (stamp -> people)", "node", "latency_ms_p50", "ms", ("<=", 50.0)),
    ("node latency p95", "node", "latency_ms_p95", "ms", None),
    ("node with markers + mesh subscribed", "node", "markers_subscribed.fps", "fps", (">=", 25.0)),
    ("node with markers + mesh: latency p50", "node", "markers_subscribed.latency_ms_p50", "ms",
     ("<=", 35.0)),
    ("node, four people, markers + mesh", "node", "four_people.fps", "fps", (">=", 20.0)),
    ("node, 3840x2159 rgb8 at 5 Hz", "node", "large_frames_4k.fps", "fps", None),
    ("node soak: RSS slope", "soak", "rss_slope_mb_per_min", "MB/min", ("<=", 0.5)),
    ("renders 256 px", "hourglass", "render_images_per_s", "1/s", (">=", 200.0)),
    ("hourglass small forward (CPU)", "hourglass", "forward_ms_small_cpu", "ms", None),
    ("hourglass->SMPLR renders: MPJPE", "hourglass", "mpjpe_mm", "mm", None),
]


def lookup(data: dict, path: str):
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def main() -> list[dict]:
    cache: dict[str, dict] = {}
    rows = []
    for label, name, key, unit, target in ROWS:
        if name not in cache:
            path = RESULTS / f"{name}.json"
            cache[name] = json.loads(path.read_text()) if path.is_file() else {}
        value = lookup(cache[name], key)
        met, bound = None, None
        if target is not None:
            bound = lookup(cache[name], target[1]) if isinstance(target[1], str) else target[1]
        if isinstance(bound, (int, float)) and isinstance(value, (int, float)):
            met = value <= bound if target[0] == "<=" else value >= bound
        shown = f"{bound:.3g}" if isinstance(bound, float) else str(bound)
        rows.append({"figure": label, "value": value, "unit": unit, "source": f"{name}.json:{key}",
                     "target": f"{target[0]} {shown}" if target else "", "met": met})
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>10}  {'unit':<4}  {'target':<10}  met   source")
    for r in rows:
        value = "-" if r["value"] is None else (f"{r['value']:.3g}" if isinstance(r["value"], float)
                                                 else str(r["value"]))
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        print(f"{r['figure']:<{width}}  {value:>10}  {r['unit']:<4}  {r['target']:<10}  {met:<4}  {r['source']}")
    (RESULTS / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
