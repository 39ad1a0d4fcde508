"""Shared by the COCOeval parity tests: run pycocotools' and cocors' COCOeval on the same
inputs and compare everything they expose, exactly."""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any, Callable, Optional, Tuple

import numpy as np
from pycocotools.cocoeval import COCOeval as PyCOCOeval

from cocors.cocoeval import COCOeval


def quiet(f: Callable[[], Any]) -> Tuple[Any, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        r = f()
    return r, out.getvalue()


def assert_array_identical(a: Any, b: Any, what: str) -> None:
    """Same type, dtype, shape and values (NaN equal to NaN, -0.0 distinct from 0.0 only
    through values: np.array_equal semantics plus sign of zero)."""
    assert type(a) is type(b), f"{what}: {type(a)} vs {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs {b.dtype}"
        assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{what}: values differ\n{a}\n{b}"
    else:
        assert a == b, f"{what}: {a!r} vs {b!r}"


def assert_eval_imgs_equal(ours: Any, theirs: Any) -> None:
    assert len(ours) == len(theirs), f"evalImgs: {len(ours)} vs {len(theirs)} entries"
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if b is None:
            assert a is None, f"evalImgs[{n}]: expected None"
            continue
        assert a is not None, f"evalImgs[{n}]: None, expected {b}"
        assert list(a) == list(b), f"evalImgs[{n}] keys"
        for key in b:
            x, y = a[key], b[key]
            if isinstance(y, np.ndarray):
                assert_array_identical(x, y, f"evalImgs[{n}][{key!r}]")
            elif key in ("dtScores", "dtIds", "gtIds"):
                assert [float(v) for v in x] == [float(v) for v in y], f"evalImgs[{n}][{key!r}]"
            else:
                assert x == y, f"evalImgs[{n}][{key!r}]: {x!r} vs {y!r}"


def assert_ious_equal(ours: Any, theirs: Any) -> None:
    assert list(ours) == list(theirs), "ious keys"
    for key in theirs:
        x, y = ours[key], theirs[key]
        if isinstance(y, list):
            assert isinstance(x, list) and x == y == [], f"ious[{key}]: {x!r} vs {y!r}"
        else:
            assert_array_identical(x, y, f"ious[{key}]")
            assert np.isfortran(x) == np.isfortran(y) or y.shape[0] <= 1 or y.shape[1] <= 1, f"ious[{key}] order"


def run_both(
    gt_py: Any,
    dt_py: Any,
    gt_ours: Any,
    dt_ours: Any,
    iou_type: str,
    set_params: Optional[Callable[[Any], None]] = None,
    deep: bool = True,
) -> Tuple[Any, Any]:
    """Runs evaluate/accumulate/summarize on both (params set the same way), compares the
    arrays, stats, printed summaries and (``deep``) evalImgs and ious. Returns both."""
    theirs = PyCOCOeval(gt_py, dt_py, iou_type)
    ours = COCOeval(gt_ours, dt_ours, iou_type)
    if set_params is not None:
        set_params(theirs.params)
        set_params(ours.params)
    for E in (theirs, ours):
        quiet(E.evaluate)
        quiet(E.accumulate)
    for key in ("precision", "recall", "scores"):
        assert_array_identical(ours.eval[key], theirs.eval[key], f"eval[{key!r}]")
    assert ours.eval["counts"] == theirs.eval["counts"]
    if deep:
        assert_eval_imgs_equal(ours.evalImgs, theirs.evalImgs)
        assert_ious_equal(ours.ious, theirs.ious)
    try:
        _, printed_theirs = quiet(theirs.summarize)
    except IndexError:
        return ours, theirs
    _, printed_ours = quiet(ours.summarize)
    assert printed_ours == printed_theirs
    assert_array_identical(ours.stats, theirs.stats, "stats")
    return ours, theirs


def fresh(dataset: Any) -> Any:
    return copy.deepcopy(dataset)
