"""Helpers for tests that run real ROS 2 processes over DDS (loopback profile, test domain)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """Start ``python <args>`` from the repository root with the test environment (inherited)."""
    return subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> str:
    """Interrupt a process like Ctrl-C, wait, and return everything it printed."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def spin_until(node, condition: Callable[[], bool], timeout_s: float) -> bool:
    """Spin ``node`` until ``condition()`` holds or the timeout passes; return the condition."""
    import rclpy

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return condition()
