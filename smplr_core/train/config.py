"""Training configurations as data. ``paper`` is the paper's architecture (the default); ``cpu`` is
the configuration the shipped weights were trained with on a 2-core CPU (docs/core.md)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from smplr_core.models.dae import DAEConfig

STAGES = ("dae", "smplr-shape", "smplr-pose", "end2end")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the seed and device."""
    dae: DAEConfig = field(default_factory=DAEConfig)
    smplr_shape_widths: tuple[int, ...] = (256, 256)
    smplr_pose_widths: tuple[int, ...] = (1024, 1024)
    steps: dict = field(default_factory=lambda: {"dae": 200_000, "smplr-shape": 20_000, "smplr-pose": 100_000,
                                                 "end2end": 50_000})
    batch_size: dict = field(default_factory=lambda: {"dae": 256, "smplr-shape": 256, "smplr-pose": 256,
                                                      "end2end": 256})
    lr: dict = field(default_factory=lambda: {"dae": 1e-3, "smplr-shape": 1e-3, "smplr-pose": 1e-3,
                                              "end2end": 1e-4})
    # per-sample 2D noise level drawn uniformly in this range during training (1.0 = evaluation default)
    noise_level: tuple[float, float] = (0.0, 1.5)
    # Gaussian noise (metres) on SMPLR's clean 3D input while training SMPLR alone: robustness to the DAE
    smplr_input_noise_m: float = 0.004
    # loss weights (distances in metres, rotations as matrix entries, betas as unit-variance numbers)
    w_joints: float = 1.0
    w_landmarks: float = 1.0
    w_vertices: float = 1.0
    w_rotations: float = 0.05
    w_betas: float = 0.002
    w_dae_in_end2end: float = 1.0
    train_joints_only_ablation: bool = True
    num_vertex_samples: int = 256  # mesh vertices in the training-time vertex loss
    log_every: int = 50
    save_every: int = 1000
    eval_samples: int = 1024

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["dae"] = DAEConfig.from_dict(d["dae"])
        for k in ("smplr_shape_widths", "smplr_pose_widths", "noise_level"):
            d[k] = tuple(d[k])
        return cls(**d)

    def scaled(self, factor: float) -> "TrainConfig":
        """Same configuration with every stage's steps multiplied (tests use tiny runs)."""
        return replace(self, steps={k: max(1, int(round(v * factor))) for k, v in self.steps.items()})


PAPER = TrainConfig()

CPU = TrainConfig(
    dae=DAEConfig(widths=(512, 512, 256, 512, 512), output_scale="metric"),
    smplr_shape_widths=(256, 256),
    smplr_pose_widths=(512, 512),
    steps={"dae": 8000, "smplr-shape": 800, "smplr-pose": 4000, "end2end": 1500},
    batch_size={"dae": 256, "smplr-shape": 256, "smplr-pose": 256, "end2end": 256},
    lr={"dae": 2e-3, "smplr-shape": 2e-3, "smplr-pose": 2e-3, "end2end": 2e-4},
    num_vertex_samples=64,
)

# The shipped DAE: the ``cpu`` DAE (metric output, 8,000 steps) continued as a box-scale DAE
# (``--init`` converts it exactly) for more steps at a lower peak rate, then end-to-end again.
CPU_DAE_CONTINUE = replace(
    CPU,
    dae=DAEConfig(widths=(512, 512, 256, 512, 512), output_scale="box"),
    steps={**CPU.steps, "dae": 26000},
    lr={**CPU.lr, "dae": 1e-3},
)

# One GPU: the paper's widths, larger batches, many more samples (docs/core.md has the command and
# the time budget it ran under).
GPU = replace(
    PAPER,
    steps={"dae": 120_000, "smplr-shape": 10_000, "smplr-pose": 60_000, "end2end": 30_000},
    batch_size={"dae": 1024, "smplr-shape": 512, "smplr-pose": 512, "end2end": 512},
    lr={"dae": 1e-3, "smplr-shape": 1e-3, "smplr-pose": 1e-3, "end2end": 1e-4},
    num_vertex_samples=256,
    log_every=100,
    save_every=2000,
)

# A second GPU run from the first one's weights (--init): the DAE again at a lower peak rate.
GPU_CONTINUE = replace(GPU, lr={**GPU.lr, "dae": 3e-4})

NAMED_CONFIGS = {"paper": PAPER, "cpu": CPU, "cpu-dae-continue": CPU_DAE_CONTINUE, "gpu": GPU,
                 "gpu-continue": GPU_CONTINUE}
