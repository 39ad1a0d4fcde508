"""``cocors.evaluate``: a whole COCO evaluation in one call, for scripts and CI."""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any, Dict, Union

import numpy as np

from .coco import COCO
from .cocoeval import COCOeval

_PathLike = Union[str, "os.PathLike[str]"]


def evaluate(gt: Any, dt: Any, iou_type: str = "bbox", verbose: bool = False) -> Dict[str, Any]:
    """Evaluate detections ``dt`` against ground truth ``gt`` as ``COCOeval`` does
    (``evaluate()``, ``accumulate()``, ``summarize()``) and return
    ``{'stats', 'precision', 'recall', 'scores', 'summary'}``: the stats array, the three
    accumulated arrays and the summary lines pycocotools prints.

    ``gt`` is a path to a COCO annotation file or a ``COCO`` object; ``dt`` a path to a results
    file, a list of result dicts, an N x 7 array or a ``COCO`` of results. ``verbose`` also
    prints pycocotools' progress lines and summary.
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if not verbose else contextlib.nullcontext():
        cocoGt = gt if isinstance(gt, COCO) or not isinstance(gt, (str, os.PathLike)) else COCO(gt)
        if isinstance(dt, (str, os.PathLike, list, np.ndarray)):
            cocoDt = cocoGt.loadRes(dt)
        else:
            cocoDt = dt
        E = COCOeval(cocoGt, cocoDt, iou_type)
        E.evaluate()
        E.accumulate()
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            E.summarize()
    if verbose:
        print(summary.getvalue(), end="")
    lines = [line for line in summary.getvalue().splitlines() if line.startswith(" Average")]
    return {
        "stats": E.stats,
        "precision": E.eval["precision"],
        "recall": E.eval["recall"],
        "scores": E.eval["scores"],
        "summary": lines,
    }
