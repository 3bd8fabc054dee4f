"""The evaluation CLI (smplr-eval) on the shipped weights: table, JSON, plots, the error breakdown,
and a clear error for a bad checkpoint."""
import json
import shutil

import pytest
import torch

from smplr_core.eval import metrics
from smplr_core.eval.__main__ import main as eval_main
from smplr_core.eval.evaluate import NOISE_COMPONENTS, ROWS
from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    rc = eval_main(["--repeats", "1", "--threads", "1", "--breakdown", "--json", str(out / "eval.json"),
                    "--figures", str(out / "figures")])
    assert rc == 0
    return out, json.loads((out / "eval.json").read_text())


def test_table_rows_and_plots(result):
    out, r = result
    assert set(r["rows"]) == set(ROWS)
    for name, row in r["rows"].items():
        assert 0 < row["mpjpe_mm"] < 200 and 0 < row["pa_mpjpe_mm"] <= row["mpjpe_mm"] + 1, name
    assert r["samples"] == 345  # every held-out frame once
    for name in ("error_per_joint", "error_vs_noise", "error_vs_distance", "error_breakdown"):
        png = out / "figures" / f"core_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_breakdown_orders_the_noise_components(result):
    """Same frames, shapes and cameras in every noise row: no noise < each component alone < all."""
    b = result[1]["breakdown"]
    none, full = b["noise"]["none (level 0)"]["mpjpe_mm"], b["noise"]["all (level 1)"]["mpjpe_mm"]
    assert abs(full - result[1]["rows"]["dae_noisy2d"]["mpjpe_mm"]) < 1e-3
    for name in NOISE_COMPONENTS:
        assert none < b["noise"][f"{name} only"]["mpjpe_mm"] < full, name
    assert set(b["per_clip"]) == {"dance_b", "kick", "jump", "walker/turn_left1"}
    assert sum(c["samples"] for c in b["per_clip"].values()) == 345
    # motions seen in training are easier than new ones at the same noise level
    assert b["seen_motions"]["level 0"]["mpjpe_mm"] < none
    assert b["seen_motions"]["level 1"]["mpjpe_mm"] < full


def test_scale_aligned_mpjpe_removes_only_a_scale():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(8, 24, 3, generator=g)
    assert torch.allclose(metrics.scale_aligned_mpjpe_mm(1.3 * target + 5.0, target), torch.zeros(8), atol=1e-3)
    rotated = target @ torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert (metrics.scale_aligned_mpjpe_mm(rotated, target) > 100).all()


def test_corrupt_checkpoint_names_the_file(tmp_path, capsys):
    for f in DEFAULT_WEIGHTS_DIR.glob("*.pt"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "dae.pt").write_bytes(b"not a checkpoint")
    assert eval_main(["--weights", str(tmp_path), "--json", str(tmp_path / "e.json"), "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert "dae.pt" in err and len(err.strip().splitlines()) == 1


def test_one_line_error_text():
    from smplr_core.errors import one_line
    assert one_line(ValueError("a\n\tb  c\n")) == "a b c"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(ValueError("x" * 50), limit=10) == "xxxxxxx..."


def test_per_source_rows_for_a_mocap_folder(tmp_path):
    """With a mocap folder, its held-out actors get their own rows and the *_heldout_actors rows
    are the mean over sources; the DeepMimic rows stay as they are."""
    from smplr_core.body import load_body_model
    from smplr_core.eval.evaluate import SOURCE_ROWS, Evaluator, format_source_table
    from tests.test_motion_files import _write_sources
    _write_sources(tmp_path)
    ev = Evaluator(DEFAULT_WEIGHTS_DIR, load_body_model(), repeats=1, motion_dirs=[tmp_path])
    assert set(ev.sources) == {"hdm05"}  # actor mm of 'hdm05' is held out; 'idle' trains on everything
    out = ev.run_sources()
    rows = out["source_rows"]
    assert out["held_out_actors"] == {"hdm05": ["mm", "tr"]}
    for row in SOURCE_ROWS:
        by = rows[f"{row}_by_source"]
        assert set(by) == {"hdm05"} and by["hdm05"]["samples"] >= 30
        assert rows[f"{row}_heldout_actors"]["mpjpe_mm"] == pytest.approx(by["hdm05"]["mpjpe_mm"])
        assert 0 < by["hdm05"]["pa_mpjpe_mm"] <= by["hdm05"]["mpjpe_mm"] + 1
    assert rows["smplr_gt3d_by_source"]["hdm05"]["mpjpe_mm"] < rows["dae_smplr_noisy2d_by_source"]["hdm05"]["mpjpe_mm"]
    assert "smplr_gt3d hdm05" in format_source_table(rows)
