"""torch.distributed glue: one process per device under ``torchrun``; a plain process otherwise."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def is_launched() -> bool:
    """True when started by torchrun (or anything that sets the env:// variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(device: str) -> str:
    """Initialise the process group when launched; returns the device this rank uses.

    NCCL for CUDA, gloo for CPU. Each rank takes the GPU of its LOCAL_RANK.
    """
    if not is_launched() or dist.is_initialized():
        return device
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return device


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel when a process group exists (stages leave some parameters unused)."""
    if dist.is_available() and dist.is_initialized():
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)
    return module


def rank0_value(value: float, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (a plain process: ``value``), so that decisions taken from
    local clocks (a time budget) are the same everywhere and no rank waits on the others forever."""
    if dist.is_available() and dist.is_initialized():
        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.broadcast(t, src=0)
        return float(t.item())
    return value


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
