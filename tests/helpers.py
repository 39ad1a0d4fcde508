"""Comparison helpers shared by the tests: exact equality of Mask API results, including dtype,
shape and memory order (pycocotools' outputs are the contract)."""

from typing import Any

import numpy as np


def assert_same(a: Any, b: Any, path: str = "result") -> None:
    """Exact equality: same types, same dtypes/shapes/flags, same values (NaN == NaN)."""
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), f"{path}: {type(a)} vs {type(b)}"
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} vs {b.dtype}"
        assert a.shape == b.shape, f"{path}: shape {a.shape} vs {b.shape}"
        assert a.flags.f_contiguous == b.flags.f_contiguous, f"{path}: Fortran order differs"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{path}: values differ\n{a}\n{b}"
        return
    if isinstance(b, np.generic):
        assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
        assert a == b, f"{path}: {a} vs {b}"
        return
    if isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b), f"{path}: keys {list(a)} vs {list(b)}"
        for k in b:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
        return
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
        return
    assert type(a) is type(b) and a == b, f"{path}: {a!r} vs {b!r}"


def compressed(rle: dict) -> dict:
    """The same RLE with bytes counts (pycocotools' ops take only compressed counts)."""
    from cocors.testing.reference import counts_to_string

    c = rle["counts"]
    if isinstance(c, list):
        c = counts_to_string(c)
    return {"size": list(rle["size"]), "counts": c}
