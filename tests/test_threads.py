"""Thread-count independence, concurrent use from many Python threads, fork safety."""

import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import cocors
import cocors.mask as cm


def workload():
    rng = np.random.default_rng(7)
    h, w = 120, 160
    polys = []
    for _ in range(300):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 60)
        t = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 30)))
        rr = r * rng.uniform(0.5, 1.0, len(t))
        polys.append(np.round(np.stack([cx + rr * np.cos(t), cy + rr * np.sin(t)], 1).ravel(), 2).tolist())
    rles = cm.frPoly(polys, h, w)
    boxes = rng.uniform(0, 100, (400, 4))
    crowd = [i % 7 == 0 for i in range(len(rles))]
    return {
        "rles": rles,
        "iou": cm.iou(rles, rles, crowd),
        "box_iou": cm.iou(boxes, boxes, [0] * len(boxes)),
        "decode": cm.decode(rles),
        "encode": cm.encode(cm.decode(rles)),
        "area": cm.area(rles),
        "bbox": cm.toBbox(rles),
        "merge": cm.merge(rles),
        "inter": cm.merge(rles[:5], intersect=1),
    }


def same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


@pytest.fixture
def restore_threads():
    n = cocors.get_num_threads()
    yield
    cocors.set_num_threads(n)


def test_results_do_not_depend_on_thread_count(restore_threads):
    cocors.set_num_threads(1)
    base = workload()
    for n in (2, 3, 8):
        cocors.set_num_threads(n)
        assert cocors.get_num_threads() == n
        same(workload(), base)


def test_concurrent_calls_from_python_threads():
    base = workload()
    results, errors = [None] * 8, []

    def run(i):
        try:
            results[i] = workload()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        same(r, base)


def _child(q):
    q.put(cm.area(workload()["rles"]).tolist())


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_after_parallel_use():
    parent = workload()  # the parent's pool is running
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    out = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    assert out == cm.area(parent["rles"]).tolist()


def test_thread_count_from_environment():
    env = dict(os.environ, COCORS_NUM_THREADS="3")
    out = subprocess.run(
        [sys.executable, "-c", "import cocors; print(cocors.get_num_threads())"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "3"


def ticks_during(call):
    """Time stamps of another Python thread's loop taken while `call` ran, and its start and
    end."""
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    return [x for x in ticks if start < x < end], start, end


def share_of_time_with_ticks(call):
    """The share of `call`'s milliseconds in which another Python thread ran. Code holding the
    GIL throughout gives about none; code that takes it between blocks gives that thread a
    switch interval (5 ms) now and then; code that releases it while it works gives nearly
    all (the machine has two cores)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        ticks, start, end = ticks_during(call)
    finally:
        sys.setswitchinterval(interval)
    busy = {int((x - start) * 1000) for x in ticks}
    return len(busy) / max(1, int((end - start) * 1000))


def test_gil_is_released_during_batch_work(restore_threads):
    # While one thread runs a long iou, another Python thread keeps running.
    cocors.set_num_threads(1)
    rles = workload()["rles"] * 8
    share = share_of_time_with_ticks(lambda: cm.iou(rles, rles, [0] * len(rles)))
    assert share > 0.5, share


def test_gil_is_released_while_polygons_are_rasterised(restore_threads):
    # frPyObjects holds the GIL only to convert a block of polygons and to build its dicts.
    # One thread, four blocks of 256 large polygons: some 200 ms of rasterising.
    cocors.set_num_threads(1)
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    polys = [
        np.round(np.stack([2000 + 1500 * np.cos(t + k), 2000 + 1500 * np.sin(t + k)], 1).ravel(), 2).tolist()
        for k in range(1024)
    ]
    share = share_of_time_with_ticks(lambda: cm.frPyObjects(polys, 4000, 4000))
    assert share > 0.5, share


def test_polygon_batches_in_blocks_match_pycocotools_and_fail_at_the_first_bad_item(restore_threads):
    # frPyObjects converts polygons block by block while the pool rasterises earlier blocks
    # (of up to 256): results, and which error a batch with several bad polygons raises (the
    # first in list order, whatever its kind), must not depend on the thread count.
    import pycocotools.mask as pm

    rng = np.random.default_rng(11)
    polys = [np.round(rng.uniform(-20, 180, 2 * rng.integers(3, 40)), 2).tolist() for _ in range(1100)]
    expected = pm.frPyObjects(polys, 120, 160)
    bad_type = list(polys)
    bad_type[700] = polys[700][:4] + ["x"] + polys[700][5:]
    bad_coord = list(polys)
    bad_coord[300] = polys[300][:2] + [float("nan")] + polys[300][3:]
    both_late_type = list(bad_coord)
    both_late_type[700] = bad_type[700]
    both_early_type = list(bad_type)
    both_early_type[255] = bad_type[700]
    both_early_type[256] = bad_coord[300]
    for n in (1, 2, 3):
        cocors.set_num_threads(n)
        assert cm.frPyObjects(polys, 120, 160) == expected
        with pytest.raises(cocors.InputTypeError, match=r"^polygon #700 must be a flat list"):
            cm.frPyObjects(bad_type, 120, 160)
        for batch in (bad_coord, both_late_type):
            with pytest.raises(cocors.GeometryError, match=r"^item 300: coordinate NaN at position 2"):
                cm.frPyObjects(batch, 120, 160)
        with pytest.raises(cocors.InputTypeError, match=r"^polygon #255 must be a flat list"):
            cm.frPyObjects(both_early_type, 120, 160)
        # Mid-sized batches go in blocks of 8 or more, spread over the threads too.
        few = polys[:40]
        assert cm.frPyObjects(few, 120, 160) == expected[:40]
        mixed = list(few)
        mixed[20], mixed[10] = bad_type[700], bad_coord[300]
        with pytest.raises(cocors.GeometryError, match=r"^item 10: coordinate NaN"):
            cm.frPyObjects(mixed, 120, 160)
        mixed[9] = bad_type[700]
        with pytest.raises(cocors.InputTypeError, match=r"^polygon #9 must be a flat list"):
            cm.frPyObjects(mixed, 120, 160)
