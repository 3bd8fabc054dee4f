"""The BlazePose detector and landmark networks as PyTorch modules, loaded from the converted files.

Output tables (DESIGN §3.3): the detector maps (B, 3, 224, 224) in [-1, 1] to box/keypoint
regressors (B, 2254, 12) and score logits (B, 2254, 1); the landmark network maps
(B, 3, 256, 256) in [0, 1] to 39 points x (x, y, z, visibility, presence) (B, 195) in crop pixels,
a pose flag (B, 1) already through a sigmoid, and world landmarks (B, 117) in metres.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import torch
from torch import nn

from smplr_core.frontends.blazepose.assets import load_converted
from smplr_core.frontends.blazepose.graph import TfliteGraphNet, needed_ops
from smplr_core.inference import FusedGraph, optimised

DETECTOR_INPUT_SIZE = 224
LANDMARK_INPUT_SIZE = 256
NUM_LANDMARKS = 39  # 33 body points + 2 alignment points (33: hip centre, 34: scale point) + 4 unused
LANDMARK_MODELS = ("lite", "full", "heavy")
# Landmark-network outputs that pose estimation uses (index into the model's outputs):
# 0 landmarks (B,195), 1 pose flag (B,1), 4 world landmarks (B,117). 2 (segmentation) and
# 3 (heatmap) are left out, which removes the segmentation decoder from the graph.
_LANDMARK_OUTPUTS = [0, 1, 4]


class DetectorOutput(NamedTuple):
    regressors: torch.Tensor  # (B, 2254, 12)
    score_logits: torch.Tensor  # (B, 2254)


class LandmarkOutput(NamedTuple):
    landmarks: torch.Tensor  # (B, 39, 5) crop pixels x, y, z; visibility and presence logits
    pose_flag: torch.Tensor  # (B,) in [0, 1]
    world: torch.Tensor  # (B, 39, 3) metres


def _build(name: str, outputs: list[int] | None, slots: list[int] | None = None,
           data: dict | None = None) -> TfliteGraphNet:
    data = data or load_converted(name)
    net = TfliteGraphNet(data["graph"], outputs=outputs, slots=slots)
    wanted = net.state_dict().keys()
    state = {"convs." + k: v for k, v in data["state_dict"].items() if "convs." + k in wanted}
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False)


class _Frozen(nn.Module):
    """Wraps a graph net for ``torch.jit.trace`` (tuples out)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.net(x))


def _optimise(net: nn.Module, size: int, device: torch.device):
    """Traced and frozen with channels_last weights (``smplr_core.inference.optimised``): on a CPU
    a ``FusedGraph`` (fused oneDNN convolution/activation/addition partitions), else a frozen
    graph. The traced graph keeps the batch dimension free (reshapes read it from the input)."""
    net = net.to(device=device, memory_format=torch.channels_last)
    example = torch.zeros(1, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    return optimised(_Frozen(net), (example,))


# A batch of two or more crops (several people; the detector's whole image plus tiles) runs as two
# halves on two threads at once when torch itself uses one thread (the ROS node's default on 2
# cores): each half is a whole network pass, so the threads meet once per call instead of at every
# layer as torch's own intra-op threads do. On 2 cores: landmarks batch 2 23.5 -> 13.3 ms, detector
# batch 5 64 -> 43 ms (measured before the fused graphs). The result equals the two halves run one
# after the other bit for bit; against one pass over the whole batch it differs by float rounding
# only (the fused kernels are compiled per batch size).
_half_pool: ThreadPoolExecutor | None = None
_half_pool_lock = threading.Lock()


def _second_thread() -> ThreadPoolExecutor:
    global _half_pool
    with _half_pool_lock:
        if _half_pool is None:
            _half_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blazepose-half")
        return _half_pool


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_batch(net, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net(x)`` (a tuple of batch-first outputs), split in two concurrent halves on the CPU when
    the batch has two or more items, torch runs one thread and two CPUs are available. A
    ``FusedGraph`` is split only once both half shapes are compiled (before that the halves run
    one after the other)."""
    if x.device.type != "cpu" or x.shape[0] < 2 or torch.get_num_threads() != 1 \
            or _usable_cpus() < 2:
        return net(x)
    half = (x.shape[0] + 1) // 2
    if isinstance(net, FusedGraph) and not (net.warm(x[:half].shape) and net.warm(x[half:].shape)):
        first, rest = net(x[:half]), net(x[half:])
    else:
        # Grad and inference modes are per thread: the helper thread runs in the caller's.
        inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

        def second_half():
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                return net(x[half:])

        future = _second_thread().submit(second_half)
        first = net(x[:half])
        rest = future.result()
    return tuple(torch.cat([a, b]) for a, b in zip(first, rest))


class BlazePoseDetector(nn.Module):
    """forward(x (B, 3, 224, 224) in [-1, 1]) -> DetectorOutput."""

    def __init__(self, device: str | torch.device = "cpu", optimise: bool = True):
        super().__init__()
        self.device = torch.device(device)
        net = _build("detector", None).to(self.device)
        self.net = _optimise(net, DETECTOR_INPUT_SIZE, self.device) if optimise else _Frozen(net)

    def forward(self, x: torch.Tensor) -> DetectorOutput:
        regressors, scores = run_batch(self.net, x.contiguous(memory_format=torch.channels_last))
        return DetectorOutput(regressors, scores[..., 0])


class BlazePoseLandmarks(nn.Module):
    """forward(x (B, 3, 256, 256) in [0, 1]) -> LandmarkOutput. ``model``: lite | full | heavy."""

    def __init__(self, model: str = "full", device: str | torch.device = "cpu", optimise: bool = True):
        super().__init__()
        if model not in LANDMARK_MODELS:
            raise ValueError(f"unknown landmark model {model!r}; choose one of {LANDMARK_MODELS}")
        self.device = torch.device(device)
        net = _build(model, _LANDMARK_OUTPUTS).to(self.device)
        self.net = _optimise(net, LANDMARK_INPUT_SIZE, self.device) if optimise else _Frozen(net)

    def forward(self, x: torch.Tensor) -> LandmarkOutput:
        raw, flag, world = run_batch(self.net, x.contiguous(memory_format=torch.channels_last))
        b = raw.shape[0]
        return LandmarkOutput(raw.reshape(b, NUM_LANDMARKS, 5), flag.reshape(b),
                              world.reshape(b, NUM_LANDMARKS, 3))


def feature_slots(graph: dict) -> tuple[int, int, int]:
    """The landmark network's tensors that ``BlazePoseFeatures`` returns, found from the graph:
    (decoder: the map the heat-map is computed from, heat-map: the 2D heat-map output, deep: the
    1/32-resolution map where the landmark regression branch leaves the encoder)."""
    ops = graph["ops"]
    producer = {n["output"]: n for n in ops}
    heatmap = graph["outputs"][3]
    decoder = producer[heatmap]["inputs"][0]
    heatmap_ops = {n["output"] for n in needed_ops(ops, [heatmap])}
    branch = next(n for n in needed_ops(ops, [graph["outputs"][0]]) if n["output"] not in heatmap_ops)
    return decoder, heatmap, branch["inputs"][0]


class FeatureOutput(NamedTuple):
    decoder: torch.Tensor  # (B, 48, 64, 64) for full
    heatmap: torch.Tensor  # (B, 39, 64, 64)
    deep: torch.Tensor     # (B, 864, 8, 8) for full


class BlazePoseFeatures(nn.Module):
    """The landmark network's image features, frozen: forward(x (B, 3, 256, 256) in [0, 1]) ->
    FeatureOutput. The landmark regression head and the segmentation decoder are left out. Its
    weights come from the converted BlazePose files, not from a checkpoint of this project.
    ``optimise``: run the inference graph (``_optimise``), traced at the first call on each device
    the module is moved to, so that it follows ``.to(device)``."""

    def __init__(self, model: str = "full", device: str | torch.device = "cpu", optimise: bool = True):
        super().__init__()
        if model not in LANDMARK_MODELS:
            raise ValueError(f"unknown landmark model {model!r}; choose one of {LANDMARK_MODELS}")
        data = load_converted(model)
        slots = list(feature_slots(data["graph"]))
        self.channels = tuple(int(data["graph"]["shapes"][s][3]) for s in slots)  # NHWC shapes
        self.net = _Frozen(_build(model, None, slots=slots, data=data)).to(torch.device(device))
        self.optimise = optimise
        self._graphs: dict = {}

    def _apply(self, fn, *args, **kwargs):
        self._graphs.clear()  # traced for the old device or dtype
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> FeatureOutput:
        net = self.net
        if self.optimise:
            net = self._graphs.get(x.device)
            if net is None:
                net = self._graphs[x.device] = _optimise(self.net.net, LANDMARK_INPUT_SIZE, x.device)
        return FeatureOutput(*run_batch(net, x.contiguous(memory_format=torch.channels_last)))
