"""pycocotools' Mask API, bit for bit: ``import cocors.mask as mask_util``.

Same names, arguments, dtypes, shapes and memory order as ``pycocotools.mask`` 2.0.11, plus
``frBbox``, ``frPoly`` and ``frUncompressedRLE`` (which pycocotools keeps in ``_mask``). Batch
calls run in Rust, in parallel on the cocors thread pool (see :func:`cocors.set_num_threads`),
with the GIL released; results never depend on the thread count.

Where pycocotools crashes, reads uninitialised memory or silently returns ``None``, cocors raises
a :class:`cocors.CocorsError` (a ``ValueError``; wrong types raise :class:`cocors.InputTypeError`,
also a ``TypeError``) or, where the intent is clear, returns the sensible result. Every such
difference is listed in ``docs/differences.md``; on every other input the results are identical.
"""

from __future__ import annotations

import operator
from typing import Any, Dict, List, Sequence, Union, overload

import numpy as np
import numpy.typing as npt

from . import _cocors
from .errors import InputTypeError

__all__ = [
    "encode",
    "decode",
    "merge",
    "iou",
    "area",
    "toBbox",
    "frPyObjects",
    "frBbox",
    "frPoly",
    "frUncompressedRLE",
]

RLE = Dict[str, Any]
"""``{'size': [h, w], 'counts': bytes}`` (``counts`` may also be ``str`` or, for uncompressed
RLEs, a list of run lengths)."""


def _size(value: Any, name: str) -> int:
    """A mask dimension: a non-negative integer (Python or numpy; a bool counts as 0/1, as in
    pycocotools)."""
    if isinstance(value, float):
        raise InputTypeError(f"{name} must be an integer, not {type(value).__name__}")
    try:
        v = operator.index(value)
    except TypeError:
        raise InputTypeError(f"{name} must be an integer, not {type(value).__name__}") from None
    if v < 0:
        raise InputTypeError(f"{name} must be non-negative, got {v}")
    return v


def _uint8_mask(bimask: Any) -> np.ndarray:
    if not isinstance(bimask, np.ndarray):
        raise InputTypeError(f"encode expects a numpy array, got {type(bimask).__name__}")
    if bimask.dtype == np.bool_:
        return bimask.view(np.uint8)
    if bimask.dtype != np.uint8:
        raise InputTypeError(f"encode expects a uint8 or bool array, got dtype {bimask.dtype}")
    return bimask


@overload
def encode(bimask: npt.NDArray[Any]) -> Any: ...
def encode(bimask: npt.NDArray[Any]) -> Union[RLE, List[RLE]]:
    """RLE-encode a binary mask: ``(h, w)`` gives one RLE dict, ``(h, w, n)`` a list of ``n``.

    Takes uint8 or bool. Unlike pycocotools, C-ordered (and other non-Fortran) arrays are
    accepted too; they are copied to Fortran order first. Any change of byte value starts a new
    run, as in pycocotools.
    """
    m = _uint8_mask(bimask)
    if m.ndim == 3:
        return _cocors.encode(np.asfortranarray(m))
    if m.ndim == 2:
        h, w = m.shape
        return _cocors.encode(np.asfortranarray(m).reshape((h, w, 1), order="F"))[0]
    raise InputTypeError(f"encode expects a 2-D or 3-D array, got {m.ndim}-D")


def decode(rleObjs: Union[RLE, List[RLE]]) -> npt.NDArray[np.uint8]:
    """Decode one RLE to an ``(h, w)`` array, or a list to ``(h, w, n)``; uint8, Fortran order,
    sized by the first RLE. The runs of each RLE must cover exactly ``h*w`` pixels."""
    if type(rleObjs) is list:
        return _cocors.decode(rleObjs)
    return _cocors.decode([rleObjs])[:, :, 0]


def merge(rleObjs: Sequence[RLE], intersect: Any = 0) -> RLE:
    """Union (or, with ``intersect`` true, intersection) of a list of RLEs, as one RLE dict.
    An empty list gives size ``[0, 0]``; RLEs of different sizes give size ``[0, 0]``."""
    if isinstance(rleObjs, dict):
        raise InputTypeError("merge expects a list of RLE dicts, got a single dict")
    return _cocors.merge(rleObjs, bool(intersect))


def area(rleObjs: Union[RLE, List[RLE]]) -> Any:
    """Foreground pixel count: an ``np.uint32`` for one RLE, a uint32 array for a list."""
    if type(rleObjs) is list:
        return _cocors.area(rleObjs)
    return _cocors.area([rleObjs])[0]


def toBbox(rleObjs: Union[RLE, List[RLE]]) -> npt.NDArray[np.float64]:
    """Bounding boxes ``[x, y, w, h]``: ``(4,)`` float64 for one RLE, ``(n, 4)`` for a list."""
    if type(rleObjs) is list:
        return _cocors.to_bbox(rleObjs)
    return _cocors.to_bbox([rleObjs])[0]


def _iou_operand(objs: Any, name: str) -> Any:
    """pycocotools' ``iou._preproc``: boxes become an N x 4 float64 array, RLE dicts stay a list."""
    if isinstance(objs, (list, np.ndarray)) and len(objs) == 0:
        return objs
    if type(objs) is np.ndarray:
        if objs.ndim != 2 or objs.shape[1] != 4:
            raise InputTypeError(
                f"iou: {name} as a numpy array must hold N x 4 bounding boxes, got shape {objs.shape}"
            )
        return np.ascontiguousarray(objs, dtype=np.float64)
    if type(objs) is list:
        if all(type(o) in (list, np.ndarray) and len(o) == 4 for o in objs):
            return np.ascontiguousarray(np.array(objs, dtype=np.float64))
        if all(type(o) is dict for o in objs):
            return objs
        raise InputTypeError(
            f"iou: {name} as a list must hold either boxes [x, y, w, h] or RLE dicts, not a mix"
        )
    raise InputTypeError(
        f"iou: {name} must be a list of RLE dicts, a list of boxes or an N x 4 array, "
        f"got {type(objs).__name__}"
    )


def iou(dt: Any, gt: Any, pyiscrowd: Any) -> Any:
    """IoU of every ``dt`` with every ``gt``: an ``(m, n)`` float64 array in Fortran order, or
    ``[]`` when either is empty. Both are lists of RLEs, or both boxes (lists of 4 numbers or
    N x 4 arrays). Where ``pyiscrowd[j]`` is true, the denominator is the area of the ``dt``.
    For RLEs the mask IoU is computed only where the boxes overlap, and a size mismatch there
    gives -1, as in pycocotools."""
    try:
        crowd = np.array(pyiscrowd, dtype=np.uint8)
    except (TypeError, ValueError, OverflowError) as e:
        raise InputTypeError(f"iou: iscrowd must be a sequence of 0/1 flags ({e})") from None
    if crowd.ndim != 1:
        raise InputTypeError(f"iou: iscrowd must be one-dimensional, got shape {crowd.shape}")
    dt = _iou_operand(dt, "dt")
    gt = _iou_operand(gt, "gt")
    m, n = len(dt), len(gt)
    if len(crowd) != n:
        raise InputTypeError(
            f"iou: iscrowd has {len(crowd)} flags but gt has {n} items; they must match"
        )
    if m == 0 or n == 0:
        return []
    if isinstance(dt, np.ndarray) and isinstance(gt, np.ndarray):
        # Every entry is written: np.empty spares a serial zeroing pass over the matrix.
        out = np.empty((m, n), dtype=np.float64, order="F")
        _cocors.iou_boxes(dt, gt, crowd, out)
        return out
    if isinstance(dt, list) and isinstance(gt, list):
        return _cocors.iou_rles(dt, gt, crowd)
    raise InputTypeError("iou: dt and gt must be the same kind: both RLEs or both boxes")


def _boxes(bb: Any) -> npt.NDArray[np.float64]:
    try:
        arr = np.ascontiguousarray(bb, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputTypeError(f"frBbox expects an N x 4 array of boxes ({e})") from None
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputTypeError(f"frBbox expects an N x 4 array of boxes, got shape {arr.shape}")
    return arr


def frBbox(bb: Any, h: int, w: int) -> List[RLE]:
    """RLEs of boxes ``[x, y, w, h]`` (an N x 4 array; lists and int arrays are accepted too),
    rasterised as the polygon ``[x0,y0, x0,y1, x1,y1, x1,y0]`` exactly as pycocotools does."""
    return _cocors.fr_bbox(_boxes(bb), _size(h, "h"), _size(w, "w"))


def frPoly(poly: Sequence[Sequence[float]], h: int, w: int) -> List[RLE]:
    """RLEs of flat polygons ``[x0, y0, x1, y1, ...]`` (an odd trailing value is ignored), with
    pycocotools' exact rasterisation (x5 upsampling, C truncation)."""
    return _cocors.fr_poly(poly, _size(h, "h"), _size(w, "w"))


def frUncompressedRLE(ucRles: Sequence[RLE], h: int, w: int) -> List[RLE]:
    """Compressed RLEs of RLE dicts with uncompressed ``counts`` lists. As in pycocotools, each
    RLE keeps its own ``size`` (``h`` and ``w`` are checked but not used)."""
    _size(h, "h")
    _size(w, "w")
    return _cocors.fr_uncompressed(ucRles)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool)


def frPyObjects(pyobj: Any, h: int, w: int) -> Any:
    """Convert polygons, boxes or uncompressed RLEs to compressed RLEs (pycocotools' dispatch):

    - an N x 4 array: boxes, a list of RLEs;
    - a list of polygons (the first with more than 4 numbers): a list of RLEs;
    - a list of RLE dicts: a list of RLEs (each keeps its own ``size``);
    - one RLE dict: one RLE.

    Beyond pycocotools (which raises for these): a list whose items are all 4 numbers is taken as
    boxes; a single flat box or polygon gives one RLE; an empty list gives ``[]``; compressed
    counts in RLE dicts are accepted.
    """
    hh, ww = _size(h, "h"), _size(w, "w")
    if type(pyobj) is np.ndarray:
        return frBbox(pyobj, hh, ww)
    if type(pyobj) is list:
        if len(pyobj) == 0:
            return []
        first = pyobj[0]
        if isinstance(first, dict):
            return _cocors.fr_uncompressed(pyobj)
        if _is_number(first):
            if len(pyobj) == 4:
                return frBbox([pyobj], hh, ww)[0]
            if len(pyobj) > 4:
                return _cocors.fr_poly([pyobj], hh, ww)[0]
            raise InputTypeError(
                f"frPyObjects: a flat list of {len(pyobj)} numbers is neither a box nor a polygon"
            )
        try:
            n0 = len(first)
        except TypeError:
            raise InputTypeError(
                f"frPyObjects: unsupported list item of type {type(first).__name__}"
            ) from None
        if n0 == 4:
            if all(not isinstance(p, dict) and len(p) == 4 for p in pyobj):
                return frBbox(pyobj, hh, ww)
            raise InputTypeError(
                "frPyObjects: the first polygon has only 2 points (4 numbers) but other items "
                "are not boxes; pycocotools raises TypeError here too"
            )
        if n0 > 4:
            return _cocors.fr_poly(pyobj, hh, ww)
        raise InputTypeError(
            f"frPyObjects: polygons must be flat lists [x0, y0, x1, y1, ...] of at least 3 points; "
            f"the first item has {n0} values"
        )
    if isinstance(pyobj, dict) and "counts" in pyobj and "size" in pyobj:
        return _cocors.fr_uncompressed([pyobj])[0]
    raise InputTypeError(f"frPyObjects: input type {type(pyobj).__name__} is not supported")
