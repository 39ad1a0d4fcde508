"""``cocors.install_as_pycocotools()``: third-party code that imports pycocotools gets cocors."""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import List


def install_as_pycocotools() -> None:
    """Make ``import pycocotools``, ``pycocotools.coco``, ``pycocotools.mask``,
    ``pycocotools.cocoeval`` (and ``pycocotools._mask``) resolve to cocors, so that code
    written for pycocotools runs unchanged. Call it before that code imports pycocotools:
    modules that already hold pycocotools objects keep them.
    """
    from . import coco, cocoeval, mask

    existing = sys.modules.get("pycocotools")
    if getattr(existing, "__cocors__", False):
        return
    locations: List[str] = []
    if existing is not None:
        locations = list(getattr(existing, "__path__", []))
    else:
        spec = importlib.util.find_spec("pycocotools")
        if spec is not None and spec.submodule_search_locations is not None:
            locations = list(spec.submodule_search_locations)
    package = types.ModuleType("pycocotools", "cocors, installed as pycocotools")
    package.__path__ = locations
    package.__cocors__ = True  # type: ignore[attr-defined]
    package.coco = coco  # type: ignore[attr-defined]
    package.mask = mask  # type: ignore[attr-defined]
    package._mask = mask  # type: ignore[attr-defined]
    package.cocoeval = cocoeval  # type: ignore[attr-defined]
    sys.modules["pycocotools"] = package
    sys.modules["pycocotools.coco"] = coco
    sys.modules["pycocotools.mask"] = mask
    sys.modules["pycocotools._mask"] = mask
    sys.modules["pycocotools.cocoeval"] = cocoeval
