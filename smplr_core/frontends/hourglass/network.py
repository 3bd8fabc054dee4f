"""Volumetric stacked hourglass (Newell et al. 2016; volumetric output as in Pavlakos et al. 2017),
the image network of the SMPLR paper (Madadi et al. 2020, Sec. 3.1: 5 stacks, 256 features,
64 x 64 x 16 voxel heat-map per point, soft-argmax to coordinates).

Every stack ends with K * D output channels reshaped to a (K, D, H, W) volume of logits; the
volumes of all stacks are returned so that each gets the intermediate supervision of the paper.
With `limbs`, each head also outputs L * D channels: one volume per bone of SMPL's kinematic tree
(the paper's limb channels), supervised with a tube around the bone and fed to the next stack with
the point volumes; coordinates come from the point volumes only.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from smplr_core.frontends.hourglass.volume import SMPL_BONES, grid_to_volume, soft_argmax_3d


@dataclass(frozen=True)
class HourglassConfig:
    """Architecture of one volumetric stacked hourglass."""
    stacks: int
    features: int
    input_size: int      # S: square crop side in pixels
    depth_bins: int      # D: voxels along depth
    num_points: int = 42  # root + 23 joints + 18 landmarks
    levels: int = 4       # down-sampling steps inside each hourglass
    limbs: bool = False   # one extra volume per SMPL bone (checkpoints without the field: none)
    # "image": the network's own stem on the pixels (the paper's); "blazepose": the frozen image
    # features of BlazePose's full landmark network (trained on real photographs) instead of the
    # stem, with the stacks at 1/8 of the crop (checkpoints without the field: "image").
    backbone: str = "image"

    def __post_init__(self):
        if self.limbs and self.num_points < 24:
            raise ValueError("limb channels need the 24 SMPL joints among the points")
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {BACKBONES}")
        if self.backbone == "blazepose" and self.input_size != 256:
            raise ValueError("the blazepose backbone takes 256 x 256 crops (BlazePose's landmark input)")

    @property
    def num_limbs(self) -> int:
        """L: limb volumes per stack (the 23 bones of SMPL's kinematic tree, or none)."""
        return len(SMPL_BONES) if self.limbs else 0

    @property
    def heatmap_size(self) -> int:
        """H = W: the stem down-samples the crop by 4, the blazepose backbone's features by 8."""
        return self.input_size // (8 if self.backbone == "blazepose" else 4)

    @property
    def grid_hwd(self) -> tuple[int, int, int]:
        return (self.heatmap_size, self.heatmap_size, self.depth_bins)

    def to_dict(self) -> dict:
        return asdict(self)


BACKBONES = ("image", "blazepose")

# Named configurations: the paper's network, with its limb channels; "medium" (the paper's input and
# depth resolution with fewer, narrower stacks: trained on one GPU, ~0.1 s a crop on a 2-core CPU);
# "small", which trains on a 2-core CPU; and "real": two stacks on BlazePose's frozen real-image
# features, the default front-end network (docs/hourglass.md). The shipped medium and small weights
# have no limbs.
CONFIGS = {
    "paper": HourglassConfig(stacks=5, features=256, input_size=256, depth_bins=16, limbs=True),
    "medium": HourglassConfig(stacks=3, features=128, input_size=256, depth_bins=16),
    "small": HourglassConfig(stacks=2, features=64, input_size=128, depth_bins=8),
    "real": HourglassConfig(stacks=2, features=64, input_size=256, depth_bins=16, levels=3,
                            backbone="blazepose"),
}


class Residual(nn.Module):
    """Pre-activation bottleneck residual block (Newell et al.)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One recursive hourglass: `levels` halvings and symmetric up-sampling with skips."""

    def __init__(self, levels: int, features: int):
        super().__init__()
        self.skip = Residual(features, features)
        self.down = Residual(features, features)
        self.inner = Hourglass(levels - 1, features) if levels > 1 else Residual(features, features)
        self.up = Residual(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.down(nn.functional.max_pool2d(x, 2))
        low = self.up(self.inner(low))
        return self.skip(x) + nn.functional.interpolate(low, scale_factor=2, mode="nearest")


class BlazePoseStem(nn.Module):
    """Crop (B, 3, 256, 256) in [0, 1] -> (B, f, 32, 32): BlazePose's frozen landmark-network
    features (the heat-map decoder's map and the heat-map at 1/4, pooled to 1/8, plus the encoder's
    1/32 map, up-sampled), projected and merged. Only the projections train. The BlazePose
    network is not a registered submodule, so checkpoints hold the trainable part alone and the
    frozen weights always come from the converted BlazePose files."""

    def __init__(self, features: int):
        super().__init__()
        from smplr_core.frontends.blazepose.networks import BlazePoseFeatures
        backbone = BlazePoseFeatures("full")
        decoder, heatmap, deep = backbone.channels
        self.__dict__["backbone"] = backbone  # unregistered: no parameters, no state_dict entries
        self.fine = nn.Sequential(nn.Conv2d(decoder + heatmap, features, 1), nn.BatchNorm2d(features),
                                  nn.ReLU(inplace=True))
        self.coarse = nn.Sequential(nn.Conv2d(deep, features, 1), nn.BatchNorm2d(features), nn.ReLU(inplace=True))
        self.merge = Residual(features, features)

    def _apply(self, fn, *args, **kwargs):
        self.backbone._apply(fn, *args, **kwargs)  # follow .to(device) / .cuda() / .half()
        return super()._apply(fn, *args, **kwargs)

    @torch.no_grad()
    def image_features(self, images: torch.Tensor):
        """The frozen features, from BlazePose's inference graph (fused on a CPU)."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        decoder, heatmap, deep = (t.contiguous() for t in self.image_features(images))
        fine = nn.functional.avg_pool2d(torch.cat([decoder, heatmap], 1), 2)
        coarse = nn.functional.interpolate(self.coarse(deep), size=fine.shape[-2:], mode="bilinear",
                                           align_corners=False)
        return self.merge(self.fine(fine) + coarse)


class VolumetricHourglass(nn.Module):
    """Image crop (B, 3, S, S) in [0, 1] -> list over stacks of (B, K, D, S/4, S/4) logits.

    `forward_with_limbs` also gives the limb logits, (B, L, D, S/4, S/4) per stack.
    """

    def __init__(self, config: HourglassConfig):
        super().__init__()
        self.config = config
        f = config.features
        out_channels = (config.num_points + config.num_limbs) * config.depth_bins
        if config.backbone == "blazepose":
            self.stem = BlazePoseStem(f)
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(3, f // 2, 7, stride=2, padding=3), nn.BatchNorm2d(f // 2), nn.ReLU(inplace=True),
                Residual(f // 2, f // 2), nn.MaxPool2d(2), Residual(f // 2, f), Residual(f, f))
        self.hourglasses = nn.ModuleList(Hourglass(config.levels, f) for _ in range(config.stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(f, f), nn.Conv2d(f, f, 1), nn.BatchNorm2d(f), nn.ReLU(inplace=True))
            for _ in range(config.stacks))
        self.heads = nn.ModuleList(nn.Conv2d(f, out_channels, 1) for _ in range(config.stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(f, f, 1) for _ in range(config.stacks - 1))
        self.merge_heads = nn.ModuleList(nn.Conv2d(out_channels, f, 1) for _ in range(config.stacks - 1))
        # ImageNet-like normalisation constants as buffers so they move with the device.
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Point logits of every stack (limb logits, if any, are computed and dropped)."""
        return self.forward_with_limbs(images)[0]

    def forward_with_limbs(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(point logits per stack (B, K, D, H, W), limb logits per stack (B, L, D, H, W); an empty
        list without limb channels). The merge into the next stack sees both."""
        c = self.config
        x = self.stem(images if c.backbone == "blazepose" else (images - self.mean) / self.std)
        points, limbs = [], []
        for i in range(c.stacks):
            feat = self.features[i](self.hourglasses[i](x))
            logits = self.heads[i](feat)
            volumes = logits.view(logits.shape[0], c.num_points + c.num_limbs, c.depth_bins,
                                  logits.shape[-2], logits.shape[-1])
            points.append(volumes[:, :c.num_points])
            if c.limbs:
                limbs.append(volumes[:, c.num_points:])
            if i < c.stacks - 1:
                x = x + self.merge_features[i](feat) + self.merge_heads[i](logits)
        return points, limbs

    def predict_volume(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> (B, K, 3) volume coordinates (a, b, d) metres, last stack."""
        grid, _ = soft_argmax_3d(self.forward(images)[-1])
        return grid_to_volume(grid, self.config.grid_hwd)


def load_hourglass(path: str | Path, device: str = "cpu") -> tuple[VolumetricHourglass, dict]:
    """(network in eval mode, the checkpoint's dict) from a ``smplr-hourglass-1`` file, fp16-stored
    weights back in fp32. A missing, unreadable or foreign file raises an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hourglass checkpoint not found: {path} "
                                "(train one with: python -m smplr_core.train.hourglass)")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        if state.get("format") != "smplr-hourglass-1":
            raise ValueError("not a hourglass checkpoint")
        model = VolumetricHourglass(HourglassConfig(**state["config"]))
        model.load_state_dict(state["state_dict"])
    except Exception as exc:  # unreadable, wrong format or mismatched weights
        raise RuntimeError(f"cannot load hourglass checkpoint {path}: {exc}") from exc
    return model.to(device).eval(), state


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
