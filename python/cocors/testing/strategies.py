"""Hypothesis strategies for COCO masks, polygons, boxes and RLEs, valid and malformed.

For cocors' own property tests and for users fuzzing their pipelines::

    from hypothesis import given
    from cocors.testing import strategies as cst

    @given(cst.rles())
    def test_my_loader(rle): ...

Needs the optional dependency ``hypothesis`` (``pip install cocors[testing]``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import strategies as st

from .reference import counts_to_string

__all__ = [
    "mask_sizes",
    "binary_masks",
    "mask_stacks",
    "run_lengths",
    "rles",
    "rle_lists",
    "polygons",
    "polygon_lists",
    "boxes",
    "box_arrays",
    "malformed_rles",
]

RLE = Dict[str, Any]


def mask_sizes(max_side: int = 24, allow_empty: bool = True) -> st.SearchStrategy[Tuple[int, int]]:
    """(h, w) pairs; with ``allow_empty``, zero-sized masks too."""
    lo = 0 if allow_empty else 1
    return st.tuples(st.integers(lo, max_side), st.integers(lo, max_side))


@st.composite
def binary_masks(
    draw: st.DrawFn, size: Optional[Tuple[int, int]] = None, max_side: int = 24
) -> np.ndarray:
    """A uint8 ``(h, w)`` mask of 0s and 1s in Fortran order: random noise, filled rectangles,
    all-empty or all-full, so that long runs and column crossings both occur."""
    h, w = size if size is not None else draw(mask_sizes(max_side))
    kind = draw(st.sampled_from(["noise", "blocks", "empty", "full"]))
    m = np.zeros((h, w), dtype=np.uint8, order="F")
    if kind == "full":
        m[:] = 1
    elif kind == "noise" and h * w:
        bits = draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
        m[:] = np.array(bits, dtype=np.uint8).reshape((h, w), order="F")
    elif kind == "blocks" and h * w:
        for _ in range(draw(st.integers(1, 4))):
            y0, y1 = sorted(draw(st.tuples(st.integers(0, h), st.integers(0, h))))
            x0, x1 = sorted(draw(st.tuples(st.integers(0, w), st.integers(0, w))))
            m[y0:y1, x0:x1] = 1
    return m


@st.composite
def mask_stacks(
    draw: st.DrawFn, max_side: int = 24, max_n: int = 5, allow_empty: bool = True
) -> np.ndarray:
    """A uint8 ``(h, w, n)`` Fortran-ordered stack of masks of one size."""
    h, w = draw(mask_sizes(max_side, allow_empty))
    n = draw(st.integers(0 if allow_empty else 1, max_n))
    stack = np.zeros((h, w, n), dtype=np.uint8, order="F")
    for i in range(n):
        stack[:, :, i] = draw(binary_masks(size=(h, w)))
    return stack


@st.composite
def run_lengths(draw: st.DrawFn, pixels: int, canonical: bool = True) -> List[int]:
    """Run lengths covering exactly ``pixels``. Canonical runs (the only ones pycocotools
    produces) have no empty run after the first; otherwise empty runs may appear anywhere."""
    runs: List[int] = [draw(st.integers(0, pixels))]
    left = pixels - runs[0]
    while left > 0:
        r = draw(st.integers(1 if canonical else 0, left))
        runs.append(r)
        left -= r
        if not canonical and len(runs) > 4 * pixels + 4:
            runs.append(left)
            break
    return runs


@st.composite
def rles(
    draw: st.DrawFn,
    size: Optional[Tuple[int, int]] = None,
    form: Optional[str] = None,
    canonical: bool = True,
    max_side: int = 24,
) -> RLE:
    """A valid RLE dict in one of three forms: compressed ``bytes`` counts, compressed ``str``
    counts, or uncompressed (a list of run lengths, as in COCO's ``iscrowd`` annotations)."""
    h, w = size if size is not None else draw(mask_sizes(max_side))
    counts = draw(run_lengths(h * w, canonical))
    form = form or draw(st.sampled_from(["bytes", "str", "uncompressed"]))
    if form == "uncompressed":
        return {"size": [h, w], "counts": counts}
    s = counts_to_string(counts)
    return {"size": [h, w], "counts": s.decode() if form == "str" else s}


@st.composite
def rle_lists(
    draw: st.DrawFn,
    min_size: int = 0,
    max_size: int = 6,
    form: Optional[str] = "bytes",
    same_size: bool = True,
    max_side: int = 24,
) -> List[RLE]:
    """A list of RLEs, by default all of one size (as COCOeval compares them)."""
    size = draw(mask_sizes(max_side)) if same_size else None
    return draw(
        st.lists(rles(size=size, form=form, max_side=max_side), min_size=min_size, max_size=max_size)
    )


def _coordinate(limit: float) -> st.SearchStrategy[float]:
    """Coordinates as annotators write them: 2-decimal floats, integers, exact pixel centres,
    and values outside the image (negative or beyond it)."""
    return st.one_of(
        st.floats(-limit * 0.25, limit * 1.25, allow_nan=False, allow_infinity=False),
        st.integers(-3, int(limit) + 3).map(float),
        st.integers(-4 * 3, int(limit * 4) + 12).map(lambda v: v / 4),
        st.floats(-limit * 0.25, limit * 1.25, allow_nan=False).map(lambda v: round(v, 2)),
    )


@st.composite
def polygons(
    draw: st.DrawFn, size: Tuple[int, int] = (24, 24), min_points: int = 3, max_points: int = 12
) -> List[float]:
    """A flat polygon ``[x0, y0, x1, y1, ...]``, including degenerate (collinear, repeated
    vertices, zero-area), out-of-image and self-intersecting ones."""
    h, w = size
    n = draw(st.integers(min_points, max_points))
    pts = [(draw(_coordinate(w)), draw(_coordinate(h))) for _ in range(n)]
    if draw(st.booleans()) and n > 1:
        i = draw(st.integers(0, n - 1))
        pts.insert(i, pts[i])  # duplicate vertex
    return [c for p in pts for c in p]


def polygon_lists(
    size: Tuple[int, int] = (24, 24), min_size: int = 1, max_size: int = 4
) -> st.SearchStrategy[List[List[float]]]:
    """Polygons of one annotation, the first with at least 3 points (as COCO files have them)."""
    return st.tuples(
        polygons(size, min_points=3), st.lists(polygons(size, min_points=1), max_size=max_size - 1)
    ).map(lambda t: [t[0], *t[1]])


@st.composite
def boxes(draw: st.DrawFn, size: Tuple[int, int] = (24, 24)) -> List[float]:
    """A box ``[x, y, w, h]``, possibly partly or wholly outside the image, or empty."""
    h, w = size
    return [
        draw(_coordinate(w)),
        draw(_coordinate(h)),
        draw(st.floats(0, w * 1.2, allow_nan=False)),
        draw(st.floats(0, h * 1.2, allow_nan=False)),
    ]


def box_arrays(
    size: Tuple[int, int] = (24, 24), min_size: int = 0, max_size: int = 8
) -> st.SearchStrategy[np.ndarray]:
    """An ``N x 4`` float64 array of boxes."""
    return st.lists(boxes(size), min_size=min_size, max_size=max_size).map(
        lambda bs: np.array(bs, dtype=np.float64).reshape((len(bs), 4))
    )


@st.composite
def malformed_rles(draw: st.DrawFn) -> RLE:
    """RLE dicts that cocors must reject with a clear error: bytes outside the codec alphabet,
    truncated strings, runs that do not cover the mask, negative or absurd sizes, missing keys,
    wrong types."""
    h, w = draw(mask_sizes(12, allow_empty=False))
    good = counts_to_string(draw(run_lengths(h * w)))
    kind = draw(
        st.sampled_from(
            ["bad_byte", "truncated", "short", "long", "neg_size", "huge_size", "no_counts",
             "no_size", "bad_counts_type", "bad_size_type", "negative_run"]
        )
    )
    if kind == "bad_byte":
        pos = draw(st.integers(0, len(good)))
        byte = draw(st.sampled_from([b"p", b"/", b" ", b"\x00", b"\xff", b"~"]))
        return {"size": [h, w], "counts": good[:pos] + byte + good[pos:]}
    if kind == "truncated":
        return {"size": [h, w], "counts": good + b"P"}  # 'P': "more groups follow"
    if kind == "short":
        return {"size": [h, w], "counts": counts_to_string([h * w - 1] if h * w > 1 else [])
                if draw(st.booleans()) else counts_to_string([0, max(h * w - 1, 0)])}
    if kind == "long":
        return {"size": [h, w], "counts": counts_to_string([h * w, 1])}
    if kind == "neg_size":
        return {"size": [-h, w], "counts": good}
    if kind == "huge_size":
        return {"size": [1 << 20, 1 << 20], "counts": good}
    if kind == "no_counts":
        return {"size": [h, w]}
    if kind == "no_size":
        return {"counts": good}
    if kind == "bad_counts_type":
        return {"size": [h, w], "counts": draw(st.sampled_from([None, 3, 2.5, {"a": 1}]))}
    if kind == "bad_size_type":
        return {"size": draw(st.sampled_from([[h], [h, w, 1], "hw", [1.5, 2], None])), "counts": good}
    return {"size": [h, w], "counts": [h * w + 1, -1]}
