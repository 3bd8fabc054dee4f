"""The BlazePose detector and landmark networks as PyTorch modules, loaded from the converted files.

Output tables (DESIGN §3.3): the detector maps (B, 3, 224, 224) in [-1, 1] to box/keypoint
regressors (B, 2254, 12) and score logits (B, 2254, 1); the landmark network maps
(B, 3, 256, 256) in [0, 1] to 39 points x (x, y, z, visibility, presence) (B, 195) in crop pixels,
a pose flag (B, 1) already through a sigmoid, and world landmarks (B, 117) in metres.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from smplr_core.frontends.blazepose.assets import load_converted
from smplr_core.frontends.blazepose.graph import TfliteGraphNet
from smplr_core.inference import freeze

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


def _build(name: str, outputs: list[int] | None) -> TfliteGraphNet:
    data = load_converted(name)
    net = TfliteGraphNet(data["graph"], outputs=outputs)
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


def _optimise(net: nn.Module, size: int, device: torch.device) -> nn.Module:
    """Trace and freeze with channels_last weights (``smplr_core.inference.freeze``): constant-folded
    graph, fewer layout copies, and on CPU oneDNN convolutions with fused activations.

    The traced graph keeps the batch dimension free (reshapes read it from the input)."""
    net = net.to(device=device, memory_format=torch.channels_last)
    example = torch.zeros(1, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    return freeze(_Frozen(net), (example,))


class BlazePoseDetector(nn.Module):
    """forward(x (B, 3, 224, 224) in [-1, 1]) -> DetectorOutput."""

    def __init__(self, device: str | torch.device = "cpu", optimise: bool = True):
        super().__init__()
        self.device = torch.device(device)
        net = _build("detector", None).to(self.device)
        self.net = _optimise(net, DETECTOR_INPUT_SIZE, self.device) if optimise else _Frozen(net)

    def forward(self, x: torch.Tensor) -> DetectorOutput:
        regressors, scores = self.net(x.contiguous(memory_format=torch.channels_last))
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
        raw, flag, world = self.net(x.contiguous(memory_format=torch.channels_last))
        b = raw.shape[0]
        return LandmarkOutput(raw.reshape(b, NUM_LANDMARKS, 5), flag.reshape(b),
                              world.reshape(b, NUM_LANDMARKS, 3))
