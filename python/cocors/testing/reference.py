"""A plain pure-Python Mask API with pycocotools 2.0.11's exact results.

Slow and obvious on purpose: every function works pixel by pixel or run by run in plain Python,
written from pycocotools' documented behaviour (``shared/PARITY.md``), not from its code or
cocors'. It accepts valid input only (no error handling beyond asserts). numpy is used only to
receive and return arrays.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

RLE = Dict[str, Any]
U32 = 1 << 32
INT_MIN = -(1 << 31)

# ---------------------------------------------------------------------------------------------
# The compact counts string.


def counts_to_string(counts: Sequence[int]) -> bytes:
    """Runs -> string: from index 3 on store the difference with the run two back, then write
    each value as little-endian 5-bit groups, 0x20 meaning "more follows", as chr(48 + group)."""
    out = bytearray()
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        while True:
            group = x & 0x1F
            x >>= 5  # Python's >> on negative ints is arithmetic, as in C on long.
            more = x != -1 if group & 0x10 else x != 0
            out.append(48 + (group | 0x20 if more else group))
            if not more:
                break
    return bytes(out)


def counts_from_string(s: bytes) -> List[int]:
    """String -> runs, the reverse of :func:`counts_to_string` (sign-extending the last group)."""
    counts: List[int] = []
    p = 0
    while p < len(s):
        x, k = 0, 0
        while True:
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            p += 1
            k += 1
            if not c & 0x20:
                if c & 0x10:
                    x |= -1 << (5 * k)
                break
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x % U32)
    return counts


def _runs(rle: RLE) -> List[int]:
    c = rle["counts"]
    if isinstance(c, str):
        c = c.encode()
    if isinstance(c, (bytes, bytearray)):
        return counts_from_string(bytes(c))
    return [int(v) for v in c]


def _rle(h: int, w: int, counts: List[int]) -> RLE:
    return {"size": [h, w], "counts": counts_to_string(counts)}


# ---------------------------------------------------------------------------------------------
# Pixels <-> runs.


def _encode_pixels(pixels: Sequence[int]) -> List[int]:
    """Runs of a column-major pixel list; runs start with value 0 and a new run starts at any
    change of value (so [0, 1, 2, 2, 1] gives [1, 1, 2, 1])."""
    counts, value, run = [], 0, 0
    for p in pixels:
        if p != value:
            counts.append(run)
            value, run = p, 0
        run += 1
    counts.append(run)
    return counts


def _decode_pixels(counts: Sequence[int]) -> List[int]:
    pixels: List[int] = []
    for i, c in enumerate(counts):
        pixels.extend([i % 2] * c)
    return pixels


def encode(bimask: np.ndarray) -> Any:
    m = np.asarray(bimask).astype(np.uint8)
    if m.ndim == 2:
        return encode(m[:, :, None])[0]
    h, w, n = m.shape
    return [_rle(h, w, _encode_pixels(m[:, :, i].flatten(order="F").tolist())) for i in range(n)]


def decode(rles: Any) -> np.ndarray:
    if not isinstance(rles, list):
        return decode([rles])[:, :, 0]
    h, w = rles[0]["size"]
    out = np.zeros((h, w, len(rles)), dtype=np.uint8, order="F")
    for i, r in enumerate(rles):
        pixels = _decode_pixels(_runs(r))
        assert len(pixels) == h * w, "runs must cover the mask"
        out[:, :, i] = np.array(pixels, dtype=np.uint8).reshape((h, w), order="F")
    return out


# ---------------------------------------------------------------------------------------------
# Area, box, merge, IoU.


def _area(counts: Sequence[int]) -> int:
    return sum(counts[1::2]) % U32  # pycocotools sums in a 32-bit unsigned int.


def area(rles: Any) -> Any:
    if not isinstance(rles, list):
        return area([rles])[0]
    return np.array([_area(_runs(r)) for r in rles], dtype=np.uint32)


def _bbox(h: int, w: int, counts: Sequence[int]) -> List[float]:
    """Box of the foreground pixels. pycocotools' special cases: fewer than 2 runs gives zeros;
    only empty foreground runs gives its unsigned-wrapped [w, h, 2^32-w+1, 2^32-h+1]."""
    counts = counts[: len(counts) // 2 * 2]  # an odd trailing run is ignored
    if not counts:
        return [0.0, 0.0, 0.0, 0.0]
    xs, ys, xe, ye = w, h, 0, 0
    pos = 0
    for i, c in enumerate(counts):
        if i % 2 == 1:
            for p in range(pos, pos + c):
                x, y = divmod(p, h)
                xs, xe, ys, ye = min(xs, x), max(xe, x), min(ys, y), max(ye, y)
        pos += c
    return [float(xs), float(ys), float((xe - xs + 1) % U32), float((ye - ys + 1) % U32)]


def toBbox(rles: Any) -> np.ndarray:
    if not isinstance(rles, list):
        return toBbox([rles])[0]
    boxes = [_bbox(r["size"][0], r["size"][1], _runs(r)) for r in rles]
    return np.array(boxes, dtype=np.float64).reshape((len(rles), 4))


def _walk(a: List[int], b: List[int]) -> List[Tuple[int, bool, bool]]:
    """Walk two run lists together as pycocotools does: each step consumes the shorter of the
    two current runs, then moves each used-up input to its next run (one run per step, so an
    empty run costs a step of length 0). The walk stops as soon as both current runs are used up
    at once. Returns the steps (length, a is foreground, b is foreground after the step).

    If empty runs inside an input make the walk stop before the last pixel, pycocotools returns
    a wrong result (or, in a later merge step, never returns): that is an error here."""
    ia, ib = 1, 1
    left_a, left_b = a[0] if a else 0, b[0] if b else 0
    on_a = on_b = False
    steps, walked = [], 0
    while True:
        step = min(left_a, left_b)
        was_a, was_b = on_a, on_b
        walked += step
        left_a -= step
        left_b -= step
        if left_a == 0 and ia < len(a):
            left_a, on_a, ia = a[ia], not on_a, ia + 1
        if left_b == 0 and ib < len(b):
            left_b, on_b, ib = b[ib], not on_b, ib + 1
        steps.append((step, was_a, was_b, on_a, on_b))
        if left_a + left_b == 0:
            break
    if walked != sum(a):
        raise ValueError(f"run walk stops after {walked} of {sum(a)} pixels")
    return steps


def _merge_two(a: List[int], b: List[int], intersect: bool) -> List[int]:
    """A run of the result closes whenever the merged value (after a step) changes, and at the
    end. Empty runs inside an input can leave empty runs in the result, as in pycocotools."""
    out, run, on = [], 0, False
    steps = _walk(a, b)
    for i, (step, _, _, on_a, on_b) in enumerate(steps):
        run += step
        was = on
        on = (on_a and on_b) if intersect else (on_a or on_b)
        if on != was or i == len(steps) - 1:
            out.append(run)
            run = 0
    return out


def merge(rles: List[RLE], intersect: Any = 0) -> RLE:
    if not rles:
        return _rle(0, 0, [])
    h, w = rles[0]["size"]
    if len(rles) == 1:
        return _rle(h, w, _runs(rles[0]))
    if any(list(r["size"]) != [h, w] for r in rles):
        return _rle(0, 0, [])
    counts = _runs(rles[0])
    for r in rles[1:]:
        counts = _merge_two(counts, _runs(r), bool(intersect))
    return _rle(h, w, counts)


def _ieee_div(a: float, b: float) -> float:
    """a / b with IEEE 754 semantics (C's), where Python would raise ZeroDivisionError."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _box_iou(d: Sequence[float], g: Sequence[float], crowd: bool) -> float:
    """Overlap of boxes [x, y, w, h] over their union (or over the dt box for crowd)."""
    iw = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    if iw <= 0:
        return 0.0
    ih = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if ih <= 0:
        return 0.0
    inter = iw * ih
    da, ga = d[2] * d[3], g[2] * g[3]
    return _ieee_div(inter, da if crowd else da + ga - inter)


def _mask_iou(d: RLE, g: RLE, crowd: bool) -> float:
    """Pixels in both over pixels in either (or over the dt's area for crowd), computed only
    where the boxes overlap (else the box value, 0); a size mismatch there gives -1."""
    box = _box_iou(toBbox(d).tolist(), toBbox(g).tolist(), crowd)
    if not box > 0:
        return box
    if list(d["size"]) != list(g["size"]):
        return -1.0
    rd, rg = _runs(d), _runs(g)
    assert sum(rd) == sum(rg) == d["size"][0] * d["size"][1], "runs must cover the mask"
    inter = union = 0
    for step, was_d, was_g, _, _ in _walk(rd, rg):
        inter += step if was_d and was_g else 0
        union += step if was_d or was_g else 0
    if inter == 0:
        return 0.0
    return inter / (_area(rd) if crowd else union)


def iou(dt: Any, gt: Any, iscrowd: Sequence[Any]) -> Any:
    crowd = [bool(c) for c in iscrowd]
    if len(dt) == 0 or len(gt) == 0:
        return []
    out = np.zeros((len(dt), len(gt)), dtype=np.float64, order="F")
    rles = isinstance(dt[0], dict)
    for j, g in enumerate(gt):
        for i, d in enumerate(dt):
            if rles:
                out[i, j] = _mask_iou(d, g, crowd[j])
            else:
                out[i, j] = _box_iou([float(v) for v in d], [float(v) for v in g], crowd[j])
    return out


# ---------------------------------------------------------------------------------------------
# Polygons and boxes.


def _c_int(x: float) -> int:
    """C's (int) of a double on x86-64: truncation toward zero; NaN or out of range -> INT_MIN."""
    if math.isnan(x) or not (-(2.0**31) - 1 < x < 2.0**31):
        return INT_MIN
    return int(x)


def _edge_points(xs: int, ys: int, xe: int, ye: int) -> List[Tuple[int, int]]:
    """Points of one upsampled edge, both ends included, walked along its longer axis."""
    dx, dy = abs(xe - xs), abs(ys - ye)
    flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
    if flip:
        xs, xe, ys, ye = xe, xs, ye, ys
    points = []
    if dx >= dy:
        for d in range(dx + 1):
            t = dx - d if flip else d
            if dx == 0:  # zero-length edge: the slope is NaN in C
                points.append((t + xs, INT_MIN))
            else:
                points.append((t + xs, _c_int(ys + (ye - ys) / dx * t + 0.5)))
    else:
        for d in range(dy + 1):
            t = dy - d if flip else d
            points.append((_c_int(xs + (xe - xs) / dy * t + 0.5), t + ys))
    return points


def _poly_counts(xy: Sequence[float], h: int, w: int) -> List[int]:
    """pycocotools' polygon rasterisation: walk the boundary at 5x resolution, keep the points
    where it enters a pixel column, and turn their positions into runs."""
    k = len(xy) // 2
    xs = [_c_int(5 * float(xy[2 * j]) + 0.5) for j in range(k)]
    ys = [_c_int(5 * float(xy[2 * j + 1]) + 0.5) for j in range(k)]
    boundary: List[Tuple[int, int]] = []
    for j in range(k):
        boundary += _edge_points(xs[j], ys[j], xs[(j + 1) % k], ys[(j + 1) % k])
    positions = []
    for (pu, pv), (u, v) in zip(boundary, boundary[1:]):
        if u == pu:
            continue
        x = ((u if u < pu else u - 1) + 0.5) / 5 - 0.5
        if x != math.floor(x) or x < 0 or x > (w - 1 if w > 0 else 2.0**64 - 1):
            continue
        y = (min(u_v for u_v in (v, pv)) + 0.5) / 5 - 0.5
        y = math.ceil(min(max(y, 0), h))
        positions.append((int(x) * h + int(y)) % U32)
    positions.append(h * w)
    positions.sort()
    diffs = [positions[0]] + [b - a for a, b in zip(positions, positions[1:])]
    # An empty run is folded, with the value after it, into the previous run.
    counts = [diffs[0]]
    j = 1
    while j < len(diffs):
        if diffs[j] > 0:
            counts.append(diffs[j])
            j += 1
        else:
            j += 1
            if j < len(diffs):
                counts[-1] += diffs[j]
                j += 1
    return counts


def frPoly(polys: Sequence[Sequence[float]], h: int, w: int) -> List[RLE]:
    return [_rle(h, w, _poly_counts(p, h, w)) for p in polys]


def frBbox(bb: Any, h: int, w: int) -> List[RLE]:
    out = []
    for x, y, bw, bh in np.asarray(bb, dtype=np.float64).reshape(-1, 4).tolist():
        out.append(_rle(h, w, _poly_counts([x, y, x, y + bh, x + bw, y + bh, x + bw, y], h, w)))
    return out


def frUncompressedRLE(ucRles: Sequence[RLE], h: int, w: int) -> List[RLE]:
    return [_rle(r["size"][0], r["size"][1], _runs(r)) for r in ucRles]


def frPyObjects(pyobj: Any, h: int, w: int) -> Any:
    """pycocotools' dispatch on valid input (with cocors' documented extensions)."""
    if isinstance(pyobj, np.ndarray):
        return frBbox(pyobj, h, w)
    if isinstance(pyobj, dict):
        return frUncompressedRLE([pyobj], h, w)[0]
    if not pyobj:
        return []
    first = pyobj[0]
    if isinstance(first, dict):
        return frUncompressedRLE(pyobj, h, w)
    if isinstance(first, (int, float)):
        return frBbox([pyobj], h, w)[0] if len(pyobj) == 4 else frPoly([pyobj], h, w)[0]
    if len(first) == 4:
        return frBbox(pyobj, h, w)
    return frPoly(pyobj, h, w)
