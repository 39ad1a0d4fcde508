"""cocors: a Rust-accelerated, bit-exact drop-in for pycocotools.

``cocors.COCO`` is pycocotools' ``COCO`` over a lazy index of the annotation file (one pass in
Rust, compact columns, records parsed only when asked for). ``cocors.mask`` is pycocotools' Mask
API (``encode``, ``decode``, ``merge``, ``iou``, ``area``, ``toBbox``, ``frPyObjects``, ``frBbox``,
``frPoly``, ``frUncompressedRLE``) with identical results, run in parallel with the GIL released.
``cocors.COCOeval`` is pycocotools' ``COCOeval`` computed in Rust (``cocors.evaluate`` runs it in
one call).
``cocors.install_as_pycocotools()`` makes ``import pycocotools`` resolve to cocors.
"""

from __future__ import annotations

from . import mask
from ._cocors import __version__, get_num_threads, set_num_threads
from ._compat import install_as_pycocotools
from .coco import COCO
from .cocoeval import COCOeval, Params
from .evaluate import evaluate
from .errors import (
    CocorsError,
    EvalError,
    FileChangedError,
    FileError,
    GeometryError,
    InputTypeError,
    ParseError,
    RleError,
    SchemaError,
)

__all__ = [
    "__version__",
    "mask",
    "COCO",
    "COCOeval",
    "Params",
    "evaluate",
    "install_as_pycocotools",
    "set_num_threads",
    "get_num_threads",
    "CocorsError",
    "RleError",
    "GeometryError",
    "InputTypeError",
    "ParseError",
    "SchemaError",
    "FileError",
    "FileChangedError",
    "EvalError",
]
