"""Shared inputs for the front-end tests: real images and frames prepared by scripts/setup.sh."""
from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
import torch

from smplr_core.frontends.blazepose.assets import media_path


def read_rgb(name: str) -> np.ndarray:
    """An image from ``.work/assets/media`` as HxWx3 uint8 RGB."""
    bgr = cv2.imread(str(media_path(name)), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"could not decode {media_path(name)}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def astronaut() -> np.ndarray:
    from skimage import data
    return np.ascontiguousarray(data.astronaut())


def messi() -> np.ndarray:
    return read_rgb("messi5.jpg")


def video_frames(name: str, indices: list[int] | None = None, limit: int | None = None) -> list[np.ndarray]:
    """Frames of a sample video as RGB arrays: the given indices, or the first ``limit``."""
    cap = cv2.VideoCapture(str(media_path(name)))
    frames, i = [], 0
    wanted = None if indices is None else set(indices)
    try:
        while True:
            if limit is not None and len(frames) >= limit:
                break
            if wanted is not None and (not wanted or i > max(wanted)):
                break
            ok, bgr = cap.read()
            if not ok:
                break
            if wanted is None or i in wanted:
                frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
            i += 1
    finally:
        cap.release()
    if not frames:
        raise FileNotFoundError(f"no frames read from {media_path(name)}")
    return frames


@functools.lru_cache(maxsize=None)
def tracker(model: str = "full", **kwargs):
    """One shared tracker per configuration (building one traces the networks)."""
    from smplr_core.frontends import PoseTracker
    return PoseTracker(model=model, **kwargs)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run the front-end tests on one intra-op thread: with several OpenMP threads on a machine
    whose cores are busy with other work, each parallel op waits for a descheduled worker and the
    tests take minutes instead of seconds (see docs/frontend.md)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
