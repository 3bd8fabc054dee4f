"""The PyTorch BlazePose networks reproduce the reference TFLite runtime on real images."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from smplr_core.frontends.blazepose import networks
from smplr_core.frontends.blazepose import processing as P
from smplr_core.frontends.blazepose.assets import MODELS, converted_path, model_dir
from smplr_core.inference import COMPILE_CALLS, FusedGraph, onednn_fusion_available
from smplr_core.frontends.blazepose.networks import (DETECTOR_INPUT_SIZE, LANDMARK_INPUT_SIZE,
                                                     BlazePoseDetector, BlazePoseLandmarks)
from tests.frontend_helpers import astronaut, messi, one_torch_thread, video_frames  # noqa: F401 (autouse fixture)

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="reference runtime ai-edge-litert not installed")

LANDMARK_TOLERANCE_PX = 0.5  # on the 256x256 crop
SCORE_TOLERANCE = 1e-3


def _reference(name: str):
    interp = litert.Interpreter(model_path=str(model_dir() / MODELS[name].filename), num_threads=2)
    interp.allocate_tensors()
    return interp


def _run_reference(interp, x_nhwc: np.ndarray) -> list[np.ndarray]:
    outs = []
    for x in x_nhwc:  # the reference models take batch 1
        interp.set_tensor(interp.get_input_details()[0]["index"], x[None])
        interp.invoke()
        outs.append([interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()])
    return [np.concatenate(o) for o in zip(*outs)]


def _images() -> dict[str, torch.Tensor]:
    imgs = {"astronaut": astronaut(), "messi5": messi(), "vtest": video_frames("vtest.avi", [0])[0]}
    return {k: torch.from_numpy(v).permute(2, 0, 1)[None].float() / 255 for k, v in imgs.items()}


@pytest.fixture(scope="module")
def crops():
    """Detector inputs (letterbox + tiles) and landmark crops around the detected people."""
    detector = BlazePoseDetector(optimise=False)
    anchors = P.ssd_anchors()
    det_in, lm_in = [], []
    for img in _images().values():
        h, w = img.shape[2:]
        rois = torch.cat([P.letterbox_roi(h, w), P.tile_rois(h, w, (3, 4))])
        x = P.crop_rois(img, rois, DETECTOR_INPUT_SIZE) * 2 - 1
        det_in.append(x)
        with torch.inference_mode():
            out = detector(x)
        det = P.weighted_nms(P.decode_detections(out.regressors, out.score_logits, anchors, rois, 0.5))
        lm_rois = P.roi_from_alignment(det.keypoints[:, 0], det.keypoints[:, 1])[:3]
        lm_in.append(P.crop_rois(img, lm_rois, LANDMARK_INPUT_SIZE))
    return torch.cat(det_in), torch.cat(lm_in)


@pytest.mark.parametrize("optimise", [False, True], ids=["eager", "frozen"])
def test_detector_matches_reference(crops, optimise):
    x = crops[0]
    ref_reg, ref_logits = _run_reference(_reference("detector"), x.permute(0, 2, 3, 1).numpy())
    with torch.inference_mode():
        out = BlazePoseDetector(optimise=optimise)(x)
    ref_scores = 1 / (1 + np.exp(-np.clip(ref_logits[..., 0], -100, 100)))
    scores = torch.sigmoid(out.score_logits).numpy()
    assert np.abs(scores - ref_scores).max() < SCORE_TOLERANCE
    # Box/keypoint regressors in 224-px units: sub-pixel agreement.
    assert np.abs(out.regressors.numpy() - ref_reg).max() < 0.05
    assert ref_scores.max() > 0.5, "the images hold people: some anchor must fire"


@pytest.mark.parametrize("model", ["lite", "full", "heavy"])
def test_landmarks_match_reference(crops, model):
    if not converted_path(model).is_file():
        pytest.skip(f"{model} model not prepared (needs npm at setup)")
    x = crops[1]
    assert len(x) >= 3
    ref = _run_reference(_reference(model), x.permute(0, 2, 3, 1).numpy())
    ref_lm, ref_flag, ref_world = ref[0].reshape(-1, 39, 5), ref[1][:, 0], ref[4].reshape(-1, 39, 3)
    with torch.inference_mode():
        out = BlazePoseLandmarks(model, optimise=True)(x)
    err_px = np.abs(out.landmarks[..., :2].numpy() - ref_lm[..., :2]).max()
    print(f"{model}: max landmark difference {err_px:.4f} px over {len(x)} crops")
    assert err_px < LANDMARK_TOLERANCE_PX, f"landmarks differ by {err_px:.3f} px on the 256 crop"
    assert np.abs(out.pose_flag.numpy() - ref_flag).max() < SCORE_TOLERANCE
    vis = lambda a: 1 / (1 + np.exp(-np.clip(a, -60, 60)))  # noqa: E731
    assert np.abs(vis(out.landmarks[..., 3:5].numpy()) - vis(ref_lm[..., 3:5])).max() < SCORE_TOLERANCE
    assert np.abs(out.world.numpy() - ref_world).max() < 5e-3  # metres
    assert ref_flag.max() > 0.5, "at least one crop holds a person"


def test_batched_landmarks_equal_single(crops):
    net = BlazePoseLandmarks("full", optimise=True)
    x = crops[1][:3]
    with torch.inference_mode():
        batched = net(x).landmarks
        single = torch.cat([net(x[i:i + 1]).landmarks for i in range(len(x))])
    assert (batched - single).abs().max() < 1e-2


def test_batch_split_over_two_threads_equals_its_halves(crops, monkeypatch):
    """On one torch thread a batch runs as two concurrent halves (run_batch): bit for bit the two
    halves run one after the other, and within float rounding the whole batch in one pass."""
    net = BlazePoseLandmarks("full", optimise=True)
    x = crops[1][:3].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        monkeypatch.setattr(networks, "_usable_cpus", lambda: 2)
        for _ in range(COMPILE_CALLS + 1):  # halves run concurrently once compiled
            split = networks.run_batch(net.net, x)
        halves = [torch.cat([a, b]) for a, b in zip(net.net(x[:2]), net.net(x[2:]))]
        monkeypatch.setattr(networks, "_usable_cpus", lambda: 1)
        whole = networks.run_batch(net.net, x)
    assert len(split) == len(whole) == 3
    for a, b, c in zip(split, halves, whole):
        assert torch.equal(a, b)
        assert (a - c).abs().max() < 1e-2


def test_networks_run_through_onednn_graph_fuser(crops):
    """On CPU the BlazePose graphs run as fused oneDNN partitions, and the process-wide fuser
    switch is off again after each call (other TorchScript graphs must not meet it)."""
    if not onednn_fusion_available():
        pytest.skip("this torch build has no oneDNN Graph fuser")
    net = BlazePoseLandmarks("full", optimise=True)
    assert isinstance(net.net, FusedGraph)
    with torch.inference_mode():
        for _ in range(3):
            net(crops[1][:1])
    assert "oneDNNFusionGroup" in str(torch.jit.last_executed_optimized_graph())
    assert not torch.jit.onednn_fusion_enabled()


def test_cpu_crop_matches_grid_sample_crop():
    """The OpenCV crop used on CPU samples the same points as the batched grid_sample crop."""
    img = messi()
    t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    rois = torch.tensor([[250.0, 200.0, 300.0, 0.3], [100.0, 100.0, 80.0, -2.0], [500.0, 300.0, 400.0, 3.0]])
    a = P.crop_rois(t, rois, LANDMARK_INPUT_SIZE)
    b = torch.from_numpy(P.crop_rois_cv2(img, rois.numpy(), LANDMARK_INPUT_SIZE)).permute(0, 3, 1, 2) / 255
    assert (a - b).abs().max() < 3 / 255  # uint8 rounding of OpenCV's fixed-point weights
    assert (a - b).abs().mean() < 1 / 255
