"""Deterministic inputs for the Mask API benchmark (no tool under test is used to make them).

Polygons look like COCO's: star-shaped rings of 8-60 vertices with 2-decimal coordinates, radii
from 5 to 150 px, centred anywhere in a 640x480 image (so some cross its border). Masks are
filled ellipses; RLE strings are made from them with cocors' pure-Python reference codec.
"""

from __future__ import annotations

import numpy as np

H, W = 480, 640


def polygons(n: int, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(8, 61))
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(5, 150)
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = r * rng.uniform(0.6, 1.0, k)
        xy = np.stack([cx + rr * np.cos(t), cy + rr * np.sin(t)], axis=1).ravel()
        out.append(np.round(xy, 2).tolist())
    return out


def masks(n: int, seed: int = 1) -> np.ndarray:
    """(H, W, n) uint8 Fortran-ordered masks, each 1-3 filled ellipses."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    out = np.zeros((H, W, n), dtype=np.uint8, order="F")
    for i in range(n):
        m = np.zeros((H, W), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            a, b = rng.uniform(5, 120), rng.uniform(5, 120)
            m |= ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1
        out[:, :, i] = m
    return out


def rle_strings(stack: np.ndarray) -> list[dict]:
    """RLE dicts of a mask stack (column-major runs, reference codec)."""
    from cocors.testing.reference import counts_to_string

    h, w, n = stack.shape
    out = []
    for i in range(n):
        flat = stack[:, :, i].ravel(order="F")
        change = np.flatnonzero(np.diff(flat)) + 1
        bounds = np.concatenate([[0], change, [flat.size]])
        runs = np.diff(bounds).tolist()
        if flat.size and flat[0] == 1:
            runs = [0] + runs
        out.append({"size": [h, w], "counts": counts_to_string(runs)})
    return out


def boxes(n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, [W, H], (n, 2))
    wh = rng.uniform(5, 200, (n, 2))
    return np.round(np.concatenate([xy, wh], axis=1), 2)
