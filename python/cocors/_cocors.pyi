# Hand-written stubs of the native module; `python -m mypy.stubtest cocors._cocors` checks them.
# Argument checking and pycocotools-style dispatch live in cocors.mask; these functions take
# already-normalised arguments.
from typing import Any, Dict, Iterable, List, Sequence, Union

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "encode",
    "decode",
    "merge",
    "area",
    "to_bbox",
    "iou_rles",
    "iou_boxes",
    "fr_bbox",
    "fr_poly",
    "fr_uncompressed",
    "counts_to_string",
    "counts_from_string",
    "set_num_threads",
    "get_num_threads",
]

__version__: str

_RLE = Dict[str, Any]

def encode(mask: npt.NDArray[np.uint8]) -> List[_RLE]:
    """RLE dicts of a Fortran-contiguous (h, w, n) uint8 array."""

def decode(rles: Iterable[Any]) -> npt.NDArray[np.uint8]:
    """(h, w, n) Fortran-ordered uint8 masks of a non-empty list of RLEs."""

def merge(rles: Iterable[Any], intersect: bool = False) -> _RLE:
    """Union (or intersection) of RLEs."""

def area(rles: Iterable[Any]) -> npt.NDArray[np.uint32]:
    """Foreground pixel counts."""

def to_bbox(rles: Iterable[Any]) -> npt.NDArray[np.float64]:
    """(n, 4) boxes [x, y, w, h]."""

def iou_rles(
    dt: Iterable[Any], gt: Iterable[Any], iscrowd: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float64]:
    """(m, n) Fortran-ordered IoU of RLE lists."""

def iou_boxes(
    dt: npt.NDArray[np.float64], gt: npt.NDArray[np.float64], iscrowd: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float64]:
    """(m, n) Fortran-ordered IoU of N x 4 box arrays."""

def fr_bbox(bb: npt.NDArray[np.float64], h: int, w: int) -> List[_RLE]:
    """RLEs of an N x 4 float64 array of boxes."""

def fr_poly(polygons: Iterable[Sequence[float]], h: int, w: int) -> List[_RLE]:
    """RLEs of flat polygons."""

def fr_uncompressed(rles: Iterable[Any]) -> List[_RLE]:
    """Compressed RLEs of RLE dicts (each keeps its own size)."""

def counts_to_string(counts: Iterable[Union[int, float]]) -> bytes:
    """The compact counts string of run lengths."""

def counts_from_string(s: Union[bytes, str]) -> npt.NDArray[np.uint32]:
    """Run lengths of a compact counts string."""

def set_num_threads(n: int) -> None:
    """Set the worker thread count (0: COCORS_NUM_THREADS or the CPU count)."""

def get_num_threads() -> int:
    """The worker thread count."""
