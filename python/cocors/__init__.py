"""cocors: a Rust-accelerated, bit-exact drop-in for pycocotools.

``cocors.mask`` is pycocotools' Mask API (``encode``, ``decode``, ``merge``, ``iou``, ``area``,
``toBbox``, ``frPyObjects``, ``frBbox``, ``frPoly``, ``frUncompressedRLE``) with identical
results, run in parallel with the GIL released.
"""

from __future__ import annotations

from . import mask
from ._cocors import __version__, get_num_threads, set_num_threads
from .errors import CocorsError, GeometryError, InputTypeError, RleError

__all__ = [
    "__version__",
    "mask",
    "set_num_threads",
    "get_num_threads",
    "CocorsError",
    "RleError",
    "GeometryError",
    "InputTypeError",
]
