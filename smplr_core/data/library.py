"""One motion library for training and evaluation (documented in docs/core.md).

Sources are registered by name: ``deepmimic`` (the pybullet clips, always) plus every BVH or
ASF/AMC folder given with ``--motions DIR`` or the environment variable ``SMPLR_MOCAP_DIR`` (one or
more folders, separated by ``os.pathsep``). A folder whose subfolders hold the motion files (say
``hdm05/``, ``cmu/``, ``reactidle/``) registers one source per subfolder; a folder holding files
itself is one source, named after the folder. Each clip is retargeted to the body's skeleton
(``retarget.py``) when the library is built.

Held out for evaluation, by actor or subject (``HELD_OUT``): HDM05 actors ``mm`` and ``tr``; CMU
subject 7; ReActIdle's ``genuine_000``, ``genuine_002``, ``genuine_003``, ``genuine_007``; the
DeepMimic clips of ``mocap.HELD_OUT_CLIPS``. A user's own folder trains on every clip.

Sampling weights per source (``DEFAULT_WEIGHTS``; a source not listed gets ``OTHER_WEIGHT``): the
share of mocap samples drawn from that source whatever its length, so the long standing-idle set
does not swamp the short, varied ones. Within a source, frames are drawn uniformly.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smplr_core.data import mocap, motion_files, retarget
from smplr_core.data.mocap import RetargetedClip

log = logging.getLogger(__name__)

MOCAP_DIR_ENV = "SMPLR_MOCAP_DIR"
DEEPMIMIC = "deepmimic"
HELD_OUT = {
    "hdm05": ("mm", "tr"),
    "cmu": ("7",),
    "reactidle": ("genuine_000", "genuine_002", "genuine_003", "genuine_007"),
}
DEFAULT_WEIGHTS = {DEEPMIMIC: 0.2, "hdm05": 0.3, "cmu": 0.3, "reactidle": 0.2}
OTHER_WEIGHT = 0.2


def actor_of(source: str, path: Path) -> str:
    """Actor, subject or take of a clip, from its file name: HDM05 ``HDM_<actor>_...``, CMU
    ``<subject>_<trial>`` (subject without leading zeros), ReActIdle ``<kind>_<number>_...``;
    otherwise the file name itself."""
    stem = Path(path).stem
    m = re.match(r"HDM_([a-z]{2})_", stem)
    if m:
        return m.group(1)
    m = re.match(r"(\d+)_\d+$", stem)
    if m:
        return str(int(m.group(1)))
    m = re.match(r"((?:genuine|acted)_\d+)", stem)
    if m:
        return m.group(1)
    return stem


@dataclass
class ClipSet:
    """Retargeted clips with the source of each and the sampling weight of every source."""
    clips: list[RetargetedClip]
    sources: list[str]
    weights: dict[str, float] = field(default_factory=dict)

    def minutes(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c, s in zip(self.clips, self.sources):
            out[s] = out.get(s, 0.0) + float(np.sum(c.durations_s)) / 60.0
        return out

    def only(self, source: str) -> "ClipSet":
        keep = [i for i, s in enumerate(self.sources) if s == source]
        return ClipSet([self.clips[i] for i in keep], [source] * len(keep), {source: 1.0})


@dataclass
class MotionLibrary:
    """Training and held-out clips of every registered source."""
    train: ClipSet
    held_out: ClipSet
    folders: list[str]
    skipped: list[str]

    def summary(self) -> dict:
        tm, hm = self.train.minutes(), self.held_out.minutes()
        return {"folders": self.folders, "weights": self.train.weights,
                "train_minutes": {k: round(v, 2) for k, v in tm.items()},
                "held_out_minutes": {k: round(v, 2) for k, v in hm.items()},
                "motion_minutes_train": round(sum(tm.values()), 2),
                "skipped_files": len(self.skipped)}


def mocap_dirs(dirs=None) -> list[Path]:
    """Folders given explicitly, else those of ``$SMPLR_MOCAP_DIR`` (may be empty)."""
    if dirs:
        return [Path(d) for d in dirs]
    env = os.environ.get(MOCAP_DIR_ENV, "")
    return [Path(d) for d in env.split(os.pathsep) if d]


def _motion_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".bvh", ".amc") and p.is_file())


def source_folders(folder: Path) -> list[tuple[str, Path]]:
    """(source name, folder) pairs: one per subfolder holding motion files, or the folder itself."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"motion folder {folder} does not exist")
    direct = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".bvh", ".amc")]
    subs = [d for d in sorted(folder.iterdir()) if d.is_dir() and _motion_files(d)]
    if direct or not subs:
        return [(folder.name.lower(), folder)]
    return [(d.name.lower(), d) for d in subs]


def _asf_for(amc: Path, asfs: list[Path]) -> Path:
    """The ASF of an AMC: the one whose name is the longest prefix of the AMC's, or the only one."""
    fits = [a for a in asfs if amc.stem.lower().startswith(a.stem.lower())]
    if fits:
        return max(fits, key=lambda a: len(a.stem))
    if len(asfs) == 1:
        return asfs[0]
    raise motion_files.MotionFileError(amc, None, "no ASF skeleton whose name starts this file's name")


def read_motion(path: Path, asfs: list[Path], asf_cache: dict) -> motion_files.Motion:
    """One BVH or AMC file (AMC: with its ASF, parsed once per folder scan)."""
    if path.suffix.lower() == ".bvh":
        return motion_files.read_bvh(path)
    asf = _asf_for(path, asfs)
    if asf not in asf_cache:
        asf_cache[asf] = motion_files.read_asf(asf)
    return motion_files.read_amc(path, asf_cache[asf])


def load_folder(folder: Path, rest_joints: np.ndarray, smpl_parents: np.ndarray,
                skipped: list | None = None) -> list[tuple[RetargetedClip, str]]:
    """Every readable clip of a folder (recursive), retargeted, with its actor. A file that cannot
    be read or retargeted is skipped with one warning line (and listed in ``skipped``)."""
    folder = Path(folder)
    asfs = sorted(folder.rglob("*.asf")) + sorted(folder.rglob("*.ASF"))
    asf_cache: dict = {}
    out = []
    for path in _motion_files(folder):
        try:
            motion = read_motion(path, asfs, asf_cache)
            clip = retarget.retarget_motion(motion, rest_joints, smpl_parents, name=path.stem)
        except (ValueError, OSError, KeyError) as exc:
            msg = " ".join(str(exc).split())
            log.warning("skipping %s", msg if str(path) in msg else f"{path}: {msg}")
            if skipped is not None:
                skipped.append(str(path))
            continue
        out.append((clip, actor_of(folder.name, path)))
    return out


def load_library(rest_joints: np.ndarray, smpl_parents: np.ndarray, dirs=None,
                 weights: dict | None = None) -> MotionLibrary:
    """DeepMimic plus every folder of ``dirs`` (or ``$SMPLR_MOCAP_DIR``), split into training and
    held-out clips, with per-source sampling weights (``weights`` overrides the defaults)."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    train = ClipSet(mocap.retarget_clips(mocap.TRAIN_CLIPS, rest_joints, smpl_parents),
                    [DEEPMIMIC] * len(mocap.TRAIN_CLIPS))
    held = ClipSet(mocap.retarget_clips(mocap.HELD_OUT_CLIPS, rest_joints, smpl_parents),
                   [DEEPMIMIC] * len(mocap.HELD_OUT_CLIPS))
    folders, skipped = [], []
    for d in mocap_dirs(dirs):
        for name, folder in source_folders(d):
            if name == DEEPMIMIC or name in train.sources or name in held.sources:
                raise ValueError(f"motion source {name!r} ({folder}) is registered twice")
            held_actors = set(HELD_OUT.get(name, ()))
            for clip, actor in load_folder(folder, rest_joints, smpl_parents, skipped):
                target = held if actor in held_actors else train
                target.clips.append(clip)
                target.sources.append(name)
            folders.append(str(folder))
    present = sorted(set(train.sources), key=train.sources.index)
    train.weights = {s: float(weights.get(s, OTHER_WEIGHT)) for s in present}
    held.weights = {s: 1.0 for s in set(held.sources)}
    return MotionLibrary(train, held, folders, skipped)


def pose_source(clips: ClipSet, base, mocap_fraction: float = 0.5, mirror_prob: float = 0.5,
                perturb_std_rad: float = 0.08):
    """A pose source for the synthetic renders (``synth.renderer.PoseSource``): a share
    ``mocap_fraction`` of each batch from the library's training clips (by source weight, mirrored,
    jittered, any yaw), the rest and every shape from ``base`` (the renderer's default source)."""
    import torch

    from smplr_core.data.sampling import MotionBank, sample_motion_poses
    bank = MotionBank.from_clips(clips.clips, clips.sources, clips.weights)

    def source(rng: np.random.Generator, batch: int):
        rotmats, betas = base(rng, batch)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        motion = sample_motion_poses(gen, bank, batch, mirror_prob, perturb_std_rad).to(rotmats.dtype)
        use = torch.as_tensor(rng.random(batch) < mocap_fraction)
        return torch.where(use[:, None, None, None], motion, rotmats), betas

    return source
