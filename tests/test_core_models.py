"""DAE, SMPLR, translation fit, checkpoints and training (tiny real runs)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from smplr_core import geometry
from smplr_core.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from smplr_core.models.dae import DAE, DAEConfig, metric_state_to_box
from smplr_core.models.translation import fit_translation
from smplr_core.pipeline import load_dae, load_smplr
from smplr_core.train.config import CPU
from smplr_core.train.trainer import Trainer, make_smplr
from tests import core_helpers as H

REPO = Path(__file__).resolve().parents[1]
TINY = CPU.scaled(0.002)


def test_dae_shapes_and_paper_default():
    dae = DAE()
    assert dae.cfg.widths == (1024, 1024, 512, 1024, 1024)
    s = H.train_generator().sample(torch.Generator().manual_seed(0), 8)
    out = dae.eval()(s["keypoints"], s["visibility"], s["intrinsics"])
    assert out.shape == (8, 41, 3) and torch.isfinite(out).all()


def test_box_scale_dae_continues_a_metric_one_exactly():
    """A metric-output DAE converted to box-scale output computes the same points; old configs
    (no output_scale) read as metric."""
    metric = DAE(DAEConfig(widths=(64, 64, 32, 64, 64), output_scale="metric")).eval()
    box = DAE(DAEConfig(widths=(64, 64, 32, 64, 64), output_scale="box")).eval()
    box.load_state_dict(metric_state_to_box(metric.state_dict()))
    s = H.train_generator().sample(torch.Generator().manual_seed(2), 6)
    a = metric(s["keypoints"], s["visibility"], s["intrinsics"])
    b = box(s["keypoints"], s["visibility"], s["intrinsics"])
    assert b.shape == (6, 41, 3) and torch.allclose(a, b, atol=1e-5)
    old = metric.cfg.to_dict()
    del old["output_scale"]
    assert DAEConfig.from_dict(old).output_scale == "metric"
    with pytest.raises(ValueError, match="output_scale"):
        DAE(DAEConfig(widths=(8, 8, 8, 8, 8), output_scale="pixels"))


def test_dae_ignores_hidden_coordinates():
    dae = DAE(DAEConfig(widths=(64, 64, 32, 64, 64))).eval()
    s = H.train_generator().sample(torch.Generator().manual_seed(1), 4)
    vis = s["visibility"].clone()
    vis[:, :5] = 0.1
    kp = s["keypoints"].clone()
    a = dae(kp, vis, s["intrinsics"])
    kp[:, :5] = float("nan")
    b = dae(kp, vis, s["intrinsics"])
    assert torch.allclose(a, b)


def test_smplr_shapes_and_orthonormal_rotations():
    smplr = make_smplr(H.body(), CPU, use_landmarks=True).eval()
    s = H.train_generator().sample(torch.Generator().manual_seed(2), 6)
    betas, rot = smplr(s["points3d"])
    assert betas.shape == (6, 10) and rot.shape == (6, 24, 3, 3)
    eye = torch.eye(3).expand_as(rot)
    assert torch.allclose(rot @ rot.transpose(-1, -2), eye, atol=1e-5)
    jo = make_smplr(H.body(), CPU, use_landmarks=False)
    assert jo.child.numel() == 23 and smplr.child.numel() == 41


def test_translation_fit_recovers_the_camera_position():
    s = H.train_generator().sample(torch.Generator().manual_seed(3), 256, noise_level=0.0)
    w = (s["visibility"] >= 0.5).float()
    t, valid = fit_translation(s["keypoints3d"], s["keypoints_clean"], w, s["intrinsics"])
    ok = valid & (w.sum(1) >= 8)
    assert ok.float().mean() > 0.8
    assert (t[ok] - s["root_cam"][ok]).norm(dim=-1).max() < 1e-3


def test_adjugate_solve_matches_lapack_and_flags_singular_systems():
    from smplr_core.models.translation import _solve3

    gen = torch.Generator().manual_seed(5)
    m = torch.randn(200, 3, 3, generator=gen, dtype=torch.float64)
    a = m @ m.transpose(1, 2) + 0.1 * torch.eye(3, dtype=torch.float64)  # normal equations are SPD
    a[:10] = 0.0  # singular: no estimate
    b = torch.randn(200, 3, generator=gen, dtype=torch.float64)
    ok = torch.ones(200, dtype=torch.bool)
    ok[10:20] = False
    x, solved = _solve3(a, b, ok)
    assert not solved[:20].any() and solved[20:].all() and (x[:20] == 0).all()
    torch.testing.assert_close(x[20:], torch.linalg.solve(a[20:], b[20:]), atol=1e-9, rtol=1e-9)


def test_translation_fit_invalid_without_points():
    s = H.train_generator().sample(torch.Generator().manual_seed(4), 4, noise_level=0.0)
    t, valid = fit_translation(s["keypoints3d"], s["keypoints_clean"], torch.zeros(4, 33), s["intrinsics"])
    assert not valid.any() and torch.isfinite(t).all()


def test_checkpoint_round_trip(tmp_path):
    dae = DAE(DAEConfig(widths=(32, 32, 16, 32, 32)))
    path = tmp_path / "dae.pt"
    save_checkpoint(path, "dae", dae.cfg.to_dict(), dae.state_dict(), {"mpjpe_mm": 1.0})
    payload = load_checkpoint(path, "dae")
    assert payload["metrics"] == {"mpjpe_mm": 1.0} and payload["git_commit"] and payload["code_version"]
    loaded = load_dae(path)
    for k, v in dae.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_corrupt_and_mismatched_checkpoints_name_the_file(tmp_path):
    bad = tmp_path / "dae.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=str(bad)):
        load_dae(bad)
    dae = DAE(DAEConfig(widths=(32, 32, 16, 32, 32)))
    good = tmp_path / "good.pt"
    save_checkpoint(good, "dae", dae.cfg.to_dict(), dae.state_dict())
    with pytest.raises(CheckpointError, match="expected 'smplr'"):
        load_smplr(good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_dae(truncated)
    wrong = tmp_path / "wrong.pt"
    cfg = dae.cfg.to_dict()
    cfg["widths"] = [64, 32, 16, 32, 32]
    save_checkpoint(wrong, "dae", cfg, dae.state_dict())
    with pytest.raises(CheckpointError, match="wrong.pt"):
        load_dae(wrong)
    with pytest.raises(CheckpointError, match="missing.pt"):
        load_dae(tmp_path / "missing.pt")


def test_tiny_training_decreases_the_loss(tmp_path):
    torch.manual_seed(0)
    cfg = CPU.scaled(0.02)  # 160 DAE steps
    trainer = Trainer(cfg, H.body(), tmp_path / "w", tmp_path / "state", seed=0, progress=False, log=lambda *_: None)
    trainer.run(["dae"])
    hist = trainer.state.history["dae"]
    assert hist[-1]["points_mm"] < 0.8 * hist[0]["points_mm"]
    assert (tmp_path / "w" / "dae.pt").is_file()


def test_resume_continues_a_stage(tmp_path):
    from dataclasses import replace
    cfg = replace(TINY, save_every=5, steps={"dae": 12, "smplr-shape": 2, "smplr-pose": 2, "end2end": 2})
    t1 = Trainer(cfg, H.body(), tmp_path / "w", tmp_path / "state", seed=1, progress=False, log=lambda *_: None)
    t1.run(["dae", "smplr-shape"])
    t2 = Trainer(cfg, H.body(), tmp_path / "w", tmp_path / "state", seed=1, progress=False, log=lambda *_: None)
    assert t2.resume()
    assert t2.state.stages_done == ["dae", "smplr-shape"]
    for k, v in t1.dae.state_dict().items():
        assert torch.equal(t2.dae.state_dict()[k], v)
    t2.run(["dae", "smplr-shape", "smplr-pose"])
    assert t2.state.stages_done == ["dae", "smplr-shape", "smplr-pose"]
    other = replace(cfg, w_joints=2.0)
    t3 = Trainer(other, H.body(), tmp_path / "w", tmp_path / "state", seed=1, progress=False, log=lambda *_: None)
    with pytest.raises(CheckpointError, match="train_state.pt"):
        t3.resume()


def test_cli_runs_under_torch_distributed_world_size_one(tmp_path):
    """The DDP code path (gloo, one CPU rank) initialises, trains and writes its weights."""
    env = dict(os.environ, RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(29500 + os.getpid() % 1000), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "smplr_core.train", "--config", "cpu", "--steps-scale", "0.001", "--out",
           str(tmp_path / "w"), "--state-dir", str(tmp_path / "s"), "--no-progress", "--threads", "1",
           "--stages", "dae,smplr-shape", "--minutes", "0.002"]  # budget: the ranks agree when to stop
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "time budget" in res.stdout, res.stdout[-2000:]
    assert (tmp_path / "w" / "smplr.pt").is_file() and (tmp_path / "w" / "training_curves.png").is_file()


def test_worker_processes_and_time_budget(tmp_path):
    """--workers: DataLoader processes generate the samples (reproducibly for a seed and worker
    count); --minutes: the stage stops when its budget is spent, and the weights are written."""
    from dataclasses import replace
    from smplr_core.train.trainer import SampleStream

    cfg = replace(TINY, steps={"dae": 100_000, "smplr-shape": 2, "smplr-pose": 2, "end2end": 2})
    logs = []
    trainer = Trainer(cfg, H.body(), tmp_path / "w", tmp_path / "state", seed=0, progress=False,
                      log=logs.append, workers=2, stage_minutes=0.2)
    trainer.run(["dae"])
    assert any("time budget" in line for line in logs), logs
    assert 0 < trainer.state.history["dae"][-1]["step"] < 100_000
    assert (tmp_path / "w" / "dae.pt").is_file()
    a = next(iter(SampleStream(trainer.sampler, 3, (0.0, 1.0), 8)))
    b = next(iter(SampleStream(trainer.sampler, 3, (0.0, 1.0), 8)))
    assert torch.equal(a["keypoints"], b["keypoints"]) and a["keypoints"].shape == (8, 33, 2)


def test_motion_folder_from_the_environment_is_checked(tmp_path, monkeypatch):
    from smplr_core.data import mocap

    monkeypatch.setenv(mocap.MOTIONS_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        mocap.motions_dir()
    monkeypatch.delenv(mocap.MOTIONS_DIR_ENV)
    assert (mocap.motions_dir() / "humanoid3d_walk.txt").is_file()


def test_cli_rejects_unknown_stage(tmp_path):
    res = subprocess.run([sys.executable, "-m", "smplr_core.train", "--stages", "nonsense", "--out", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "nonsense" in res.stderr


def test_rot6d_output_is_a_rotation_for_any_network_output():
    r = geometry.rot6d_to_matrix(torch.randn(100, 6) * 10)
    assert torch.allclose(torch.linalg.det(r), torch.ones(100), atol=1e-5)


def test_end_to_end_fine_tunes_a_copy_of_smplr(tmp_path):
    from dataclasses import replace
    from smplr_core.models.checkpoint import WEIGHT_FILES
    cfg = replace(TINY, steps={"dae": 2, "smplr-shape": 2, "smplr-pose": 2, "end2end": 3})
    t = Trainer(cfg, H.body(), tmp_path / "w", tmp_path / "state", seed=2, progress=False, log=lambda *_: None)
    t.run(["dae", "smplr-shape", "smplr-pose"])
    before = {k: v.clone() for k, v in t.smplr.state_dict().items()}
    t.run(["end2end"])
    for k, v in t.smplr.state_dict().items():
        assert torch.equal(v, before[k]), k
    stagewise = load_smplr(tmp_path / "w" / WEIGHT_FILES["smplr"]).state_dict()
    tuned = load_smplr(tmp_path / "w" / WEIGHT_FILES["smplr_end2end"]).state_dict()
    assert all(torch.equal(stagewise[k], before[k]) for k in before)
    assert any(not torch.equal(tuned[k], before[k]) for k in before if before[k].is_floating_point())
