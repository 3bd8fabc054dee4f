"""The process-wide oneDNN Graph fuser switch (smplr_core.inference.fusion)."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from smplr_core.inference import fusion, onednn_fusion_available

pytestmark = pytest.mark.skipif(not onednn_fusion_available(), reason="no oneDNN Graph fuser in this torch")


def _blocked_in_switch() -> int:
    """Threads waiting inside ``fusion`` for the other setting (the switch's condition waiters)."""
    with fusion._cond:
        return len(fusion._cond._waiters)


def test_same_setting_shares_and_other_setting_waits():
    seen: dict[str, object] = {}
    inside = threading.Barrier(3)
    release = threading.Event()
    plain_started = threading.Event()

    def fused_user(name: str):
        with fusion(True):
            seen[name] = torch.jit.onednn_fusion_enabled()
            inside.wait(timeout=10)  # both fused users are inside at once
            release.wait(timeout=10)

    def plain_user():
        plain_started.set()
        with fusion(False):
            seen["plain"] = torch.jit.onednn_fusion_enabled()
            seen["plain_after_release"] = release.is_set()

    fused = [threading.Thread(target=fused_user, args=(n,)) for n in ("a", "b")]
    for t in fused:
        t.start()
    inside.wait(timeout=10)  # returns once both fused users hold the switch
    plain = threading.Thread(target=plain_user)
    plain.start()
    assert plain_started.wait(timeout=10)
    # The plain caller must end up waiting in the switch (it would have run through otherwise).
    deadline = time.monotonic() + 10
    while _blocked_in_switch() < 1 and "plain" not in seen and time.monotonic() < deadline:
        plain_started.wait(0.001)
    assert "plain" not in seen, "a caller without the fuser ran while fused callers were inside"
    assert _blocked_in_switch() == 1
    release.set()
    for t in fused + [plain]:
        t.join(timeout=10)
    assert seen["a"] is True and seen["b"] is True
    assert seen["plain"] is False and seen["plain_after_release"] is True
    assert not torch.jit.onednn_fusion_enabled()


def test_switch_is_restored_after_an_error():
    with pytest.raises(RuntimeError):
        with fusion(True):
            assert torch.jit.onednn_fusion_enabled()
            raise RuntimeError("boom")
    assert not torch.jit.onednn_fusion_enabled()
    with fusion(False):  # not blocked by the failed caller
        assert not torch.jit.onednn_fusion_enabled()


def test_fused_graph_per_thread_count_gives_the_same_result():
    """A FusedGraph traces once per torch thread count (partitions compiled for one count are slow
    with another) and computes the same function with each."""
    from smplr_core.inference import FusedGraph

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU6(),
                              torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)).eval()
    x = torch.rand(2, 3, 32, 32)
    expected = net(x)
    threads = torch.get_num_threads()
    graph = FusedGraph(net, (x[:1],))
    try:
        outs = {}
        for n in (1, 2):
            torch.set_num_threads(n)
            with torch.inference_mode():
                for _ in range(4):
                    outs[n] = graph(x)
        assert sorted(graph._graphs) == sorted({threads, 1, 2})
    finally:
        torch.set_num_threads(threads)
    for out in outs.values():
        assert (out - expected).abs().max() < 1e-5
    assert not torch.jit.onednn_fusion_enabled()
