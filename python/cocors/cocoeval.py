"""pycocotools' ``COCOeval`` and ``Params``, with the work done in Rust.

``evaluate()`` reads the ground truth straight from a file-backed :class:`cocors.COCO` index (or
from annotation dicts for any other COCO object, pycocotools' included) and the detections from
the index of a results file that ``loadRes`` was given (or from its dicts), then computes IoU / OKS, the greedy matching and (in ``accumulate()``) the
precision, recall and scores arrays in Rust, in parallel and without the GIL. Everything
pycocotools exposes is there with the same values, bit for bit: ``params``, ``stats``,
``eval`` (``params``, ``counts``, ``date``, ``precision``, ``recall``, ``scores``), and
``evalImgs`` and ``ious``, which are built into pycocotools' Python structures only when read.

Differences from pycocotools 2.0.11, each where it would crash or could not be exact:

- The input annotations are not modified (pycocotools writes ``ignore`` into ground-truth dicts
  and replaces ``segmentation`` with RLEs in place).
- Missing fields (``iscrowd``, ``area``, ``score``, ``bbox``, ...) raise
  :class:`cocors.SchemaError` naming the record instead of ``KeyError``; keypoint lists that do
  not hold three values per ``kpt_oks_sigmas`` entry raise :class:`cocors.EvalError` instead of
  a numpy broadcasting error.
- ``summarize()`` with fewer than 3 ``maxDets`` (detection types) raises
  :class:`cocors.EvalError` with the reason instead of ``IndexError``.
- OKS uses numpy's own ``np.exp`` (called back from Rust), so results equal pycocotools' on the
  machine they run on, AVX-512 included.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _cocors
from .errors import EvalError

__all__ = ["COCOeval", "Params"]


class Params:
    """Params for COCO evaluation, as pycocotools defines them (same fields and defaults)."""

    def setDetParams(self) -> None:
        self.imgIds: List[Any] = []
        self.catIds: List[Any] = []
        # As pycocotools builds them: np.linspace, not np.arange (whose points drift).
        self.iouThrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.maxDets: List[int] = [1, 10, 100]
        self.areaRng: List[Any] = [[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]]
        self.areaRngLbl = ["all", "small", "medium", "large"]
        self.useCats = 1

    def setKpParams(self) -> None:
        self.imgIds = []
        self.catIds = []
        self.iouThrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.maxDets = [20]
        self.areaRng = [[0**2, 1e5**2], [32**2, 96**2], [96**2, 1e5**2]]
        self.areaRngLbl = ["all", "medium", "large"]
        self.useCats = 1
        self.kpt_oks_sigmas = (
            np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89])
            / 10.0
        )

    def __init__(self, iouType: str = "segm") -> None:
        if iouType == "segm" or iouType == "bbox":
            self.setDetParams()
        elif iouType == "keypoints":
            self.setKpParams()
        else:
            raise Exception("iouType not supported")
        self.iouType = iouType
        # useSegm is deprecated
        self.useSegm: Any = None


def _side(coco: Any, p: Params, gt: bool) -> Any:
    """One side of the evaluation as Rust columns, holding what ``_prepare`` selects.

    ``_prepare`` takes ``loadAnns(getAnnIds(imgIds, catIds))``: per image (sorted), its
    annotations in file order, of the selected categories; a repeated annotation id loads the
    last record with that id. The Rust side groups by (image, category) keeping file order and
    drops images and categories outside the params, so where ids are distinct every
    annotation can be passed as it is, without building the id list in Python."""
    from .coco import COCO

    pending = coco.__dict__.get("_pending") if isinstance(coco, COCO) else None
    if pending is not None and not gt:
        # A results file nobody has read as dicts: loadRes's columns, straight from its index
        # (ids are 1, 2, ..., so every record can be passed, as below).
        truth, results = pending
        truth_index = truth._index if truth._file_backed() else None
        imgs = truth.imgs if truth_index is None and p.iouType == "segm" else None
        return _cocors.eval_anns_from_results(results, p.iouType, truth_index, imgs)
    if gt and isinstance(coco, COCO) and coco._file_backed():
        index = coco._index
        if not index.has_duplicate_ids("annotations"):
            if p.iouType == "keypoints" and p.useCats:
                # Only the selected categories' records are read for their keypoints.
                rows = index.category_rows([int(c) for c in p.catIds])
            else:
                rows = np.arange(index.count("annotations"), dtype=np.int64)
        else:
            ids = coco.getAnnIds(imgIds=p.imgIds, catIds=p.catIds) if p.useCats else coco.getAnnIds(imgIds=p.imgIds)
            rows = index.rows("annotations", np.asarray(ids, dtype=np.int64).reshape(-1))
        return _cocors.eval_anns_from_index(index, rows, p.iouType)
    imgs = coco.imgs if p.iouType == "segm" else None
    dataset = getattr(coco, "dataset", None)
    anns = dataset.get("annotations") if isinstance(dataset, dict) else None
    if type(anns) is list and isinstance(coco.anns, dict) and len(coco.anns) == len(anns):
        return _cocors.eval_anns_from_dicts(anns, p.iouType, gt, imgs)
    ids = coco.getAnnIds(imgIds=p.imgIds, catIds=p.catIds) if p.useCats else coco.getAnnIds(imgIds=p.imgIds)
    return _cocors.eval_anns_from_dicts(list(coco.loadAnns(ids)), p.iouType, gt, imgs)


def _unique(values: Any) -> Tuple[List[Any], List[int]]:
    """``list(np.unique(values))``, as pycocotools' evaluate writes the ids back, and the same
    ids as Python ints for Rust. Integers are sorted and deduplicated here: ``np.unique``'s
    first call imports ``numpy.ma`` (about 10 ms per process); anything else goes to
    ``np.unique`` itself."""
    arr = np.asarray(values)
    if type(values) not in (list, tuple, np.ndarray) or arr.dtype.kind not in "iu":
        out = list(np.unique(values))
        return out, list(map(int, out))
    arr = np.sort(arr, axis=None)
    keep = np.empty(arr.shape, dtype=bool)
    keep[:1] = True
    np.not_equal(arr[1:], arr[:-1], out=keep[1:])
    arr = arr[keep]
    # (`tolist` gives the ints in one C loop; `map(int, ...)` over numpy scalars takes ~4x longer.)
    return list(arr), arr.tolist()


def _snapshot(p: Params) -> Params:
    """``copy.deepcopy(p)`` (pycocotools' ``_paramsEval``) without its cost on 5,000 numpy
    image ids: lists of immutable scalars and arrays are copied one level down, lists of
    ranges two; anything else is deep-copied."""
    out = copy.copy(p)
    for name, value in vars(p).items():
        # (`map(type, ...)` and set checks keep the loops over 5,000 image ids in C.)
        if type(value) is list and _SCALARS.issuperset(map(type, value)):
            setattr(out, name, list(value))
        elif type(value) is list and all(type(v) is list and _SCALARS.issuperset(map(type, v)) for v in value):
            setattr(out, name, [list(v) for v in value])
        elif type(value) is np.ndarray and value.dtype != object:
            setattr(out, name, value.copy())
        else:
            setattr(out, name, copy.deepcopy(value))
    return out


_SCALARS = frozenset((int, float, str, bool, type(None), np.int64, np.int32, np.float64, np.float32))


def _index_lists(p: Params, pe: Params) -> Any:
    """accumulate's k_list, a_list, m_list and i_list, exactly as pycocotools derives them."""
    catIds = pe.catIds if pe.useCats else [-1]
    setK = set(catIds)
    setA = set(map(tuple, pe.areaRng))
    setM = set(pe.maxDets)
    k_list = [n for n, k in enumerate(p.catIds) if k in setK]
    m_list = [m for n, m in enumerate(p.maxDets) if m in setM]
    a_list = [n for n, a in enumerate(map(lambda x: tuple(x), p.areaRng)) if a in setA]
    if type(p.imgIds) is list and type(pe.imgIds) is list and p.imgIds == pe.imgIds:
        # The usual case (accumulate() right after evaluate(): the snapshot holds the same id
        # objects): every id is in the set, found by identity like the list comparison did.
        i_list = list(range(len(p.imgIds)))
    else:
        # `[n for n, i in enumerate(p.imgIds) if i in setI]`, with the loop in C.
        setI = set(pe.imgIds)
        i_list = list(itertools.compress(range(len(p.imgIds)), map(setI.__contains__, p.imgIds)))
    return k_list, a_list, m_list, i_list


class COCOeval:
    """pycocotools' ``COCOeval``: ``evaluate()``, ``accumulate(p=None)``, ``summarize()``,
    same attributes and same numbers. ``cocoGt`` and ``cocoDt`` may be cocors or pycocotools
    ``COCO`` objects; a file-backed cocors ground truth is read from its index without
    building annotation dicts."""

    def __init__(self, cocoGt: Any = None, cocoDt: Any = None, iouType: str = "segm") -> None:
        if not iouType:
            print("iouType not specified. use default iouType segm")
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self._evalImgs: Any = None
        self._ious: Any = None
        self._evaluation: Any = None
        self.eval: Dict[str, Any] = {}
        self.params = Params(iouType=iouType)
        self._paramsEval: Any = {}
        self.stats: Any = []
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    # -- evaluate ---------------------------------------------------------------------------

    def evaluate(self) -> None:
        """Per-image evaluation: IoU (or OKS) per image and category, then the matching at
        every area range. ``evalImgs`` and ``ious`` are built from it when first read."""
        tic = time.time()
        print("Running per image evaluation...")
        p = self.params
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
            print("useSegm (deprecated) is not None. Running {} evaluation".format(p.iouType))
        print("Evaluate annotation type *{}*".format(p.iouType))
        p.imgIds, img_ids = _unique(p.imgIds)
        if p.useCats:
            p.catIds = _unique(p.catIds)[0]
        p.maxDets = sorted(p.maxDets)
        self.params = p
        if p.iouType not in ("segm", "bbox", "keypoints"):
            raise Exception("unknown iouType for iou computation")
        if len(p.maxDets) == 0:
            raise EvalError("params.maxDets is empty: evaluate needs at least one maxDets value")
        gt = _side(self.cocoGt, p, True)
        dt = _side(self.cocoDt, p, False)
        catIds = p.catIds if p.useCats else [-1]
        sigmas = getattr(p, "kpt_oks_sigmas", None)
        self._evaluation = _cocors.evaluate(
            gt,
            dt,
            p.iouType,
            img_ids,
            [int(c) for c in p.catIds],
            bool(p.useCats),
            [float(t) for t in p.iouThrs],
            [(float(a[0]), float(a[1])) for a in p.areaRng],
            int(p.maxDets[-1]),
            [float(s) for s in sigmas] if p.iouType == "keypoints" else [],
            np.exp,
        )
        self._catIds = catIds
        self._evalImgs = None
        self._ious = None
        self.eval = {}
        self._paramsEval = _snapshot(self.params)
        toc = time.time()
        print("DONE (t={:0.2f}s).".format(toc - tic))

    @property
    def evalImgs(self) -> Any:
        """pycocotools' ``evalImgs``: a flat list in category x area range x image order, a
        dict per entry or None where the image has neither ground truth nor detections."""
        if self._evaluation is None:
            return []
        if self._evalImgs is None:
            self._evalImgs = self._build_eval_imgs()
        return self._evalImgs

    @evalImgs.setter
    def evalImgs(self, value: Any) -> None:
        self._evalImgs = value

    @property
    def ious(self) -> Any:
        """pycocotools' ``ious``: ``{(imgId, catId): D x G array, or [] }``."""
        if self._evaluation is None:
            return {}
        if self._ious is None:
            self._ious = self._build_ious()
        return self._ious

    @ious.setter
    def ious(self, value: Any) -> None:
        self._ious = value

    def _build_eval_imgs(self) -> List[Any]:
        p = self._paramsEval
        ev = self._evaluation
        I, A = len(p.imgIds), len(p.areaRng)
        T = len(p.iouThrs)
        maxDet = p.maxDets[-1]
        out: List[Any] = [None] * (len(self._catIds) * A * I)
        for c, (k, i) in enumerate(ev.cells()):
            for a in range(A):
                dtIds, gtIds, dtm, gtm, dtScores, gtIg, dtIg = ev.eval_img(c, a)
                D, G = len(dtIds), len(gtIds)
                out[k * A * I + a * I + i] = {
                    "image_id": p.imgIds[i],
                    "category_id": self._catIds[k],
                    "aRng": p.areaRng[a],
                    "maxDet": maxDet,
                    "dtIds": dtIds,
                    "gtIds": gtIds,
                    "dtMatches": dtm.reshape((T, D)),
                    "gtMatches": gtm.reshape((T, G)),
                    "dtScores": dtScores,
                    # np.array([]) of no ground truth is float64, as in pycocotools.
                    "gtIgnore": gtIg if G else np.array([]),
                    "dtIgnore": dtIg.reshape((T, D)),
                }
        return out

    def _build_ious(self) -> Dict[Any, Any]:
        p = self._paramsEval
        ev = self._evaluation
        order = "C" if p.iouType == "keypoints" else "F"
        out: Dict[Any, Any] = {}
        for imgId in p.imgIds:
            for catId in self._catIds:
                out[imgId, catId] = []
        for c, (k, i) in enumerate(ev.cells()):
            got = ev.ious(c)
            if got is not None:
                D, G, flat = got
                m = flat.reshape((G, D)).T
                out[p.imgIds[i], self._catIds[k]] = np.array(m, order=order)
        return out

    # -- accumulate -------------------------------------------------------------------------

    def accumulate(self, p: Optional[Params] = None) -> None:
        """Precision, recall and scores per (iouThr, recThr, category, area range, maxDets)
        into ``self.eval``."""
        print("Accumulating evaluation results...")
        tic = time.time()
        if self._evaluation is None:
            print("Please run evaluate() first")
            raise EvalError("accumulate: run evaluate() first")
        if p is None:
            p = self.params
        p.catIds = p.catIds if p.useCats == 1 else [-1]
        T = len(p.iouThrs)
        R = len(p.recThrs)
        K = len(p.catIds) if p.useCats else 1
        A = len(p.areaRng)
        M = len(p.maxDets)
        k_list, a_list, m_list, i_list = _index_lists(p, self._paramsEval)
        precision, recall, scores = self._evaluation.accumulate(
            k_list, a_list, [int(m) for m in m_list], i_list, [float(r) for r in p.recThrs], (T, R, K, A, M)
        )
        self.eval = {
            "params": p,
            "counts": [T, R, K, A, M],
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "precision": precision.reshape((T, R, K, A, M)),
            "recall": recall.reshape((T, K, A, M)),
            "scores": scores.reshape((T, R, K, A, M)),
        }
        toc = time.time()
        print("DONE (t={:0.2f}s).".format(toc - tic))

    # -- summarize --------------------------------------------------------------------------

    def summarize(self) -> None:
        """Print pycocotools' summary lines and set ``stats`` (12 values, 10 for keypoints).
        Means are numpy's (pairwise summation), as in pycocotools."""

        def _summarize(ap: int = 1, iouThr: Any = None, areaRng: str = "all", maxDets: int = 100) -> Any:
            p = self.params
            iStr = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
            titleStr = "Average Precision" if ap == 1 else "Average Recall"
            typeStr = "(AP)" if ap == 1 else "(AR)"
            iouStr = "{:0.2f}:{:0.2f}".format(p.iouThrs[0], p.iouThrs[-1]) if iouThr is None else "{:0.2f}".format(iouThr)
            aind = [i for i, aRng in enumerate(p.areaRngLbl) if aRng == areaRng]
            mind = [i for i, mDet in enumerate(p.maxDets) if mDet == maxDets]
            if ap == 1:
                s = self.eval["precision"]
                if iouThr is not None:
                    t = np.where(iouThr == p.iouThrs)[0]
                    s = s[t]
                s = s[:, :, :, aind, mind]
            else:
                s = self.eval["recall"]
                if iouThr is not None:
                    t = np.where(iouThr == p.iouThrs)[0]
                    s = s[t]
                s = s[:, :, aind, mind]
            kept = s[s > -1]  # selected once (pycocotools selects twice)
            if len(kept) == 0:
                mean_s = -1
            else:
                mean_s = np.mean(kept)
            print(iStr.format(titleStr, typeStr, iouStr, areaRng, maxDets, mean_s))
            return mean_s

        def _summarizeDets() -> np.ndarray:
            if len(self.params.maxDets) < 3:
                raise EvalError(
                    f"summarize needs 3 maxDets values for bbox and segm, got {self.params.maxDets}"
                )
            stats = np.zeros((12,))
            stats[0] = _summarize(1)
            stats[1] = _summarize(1, iouThr=0.5, maxDets=self.params.maxDets[2])
            stats[2] = _summarize(1, iouThr=0.75, maxDets=self.params.maxDets[2])
            stats[3] = _summarize(1, areaRng="small", maxDets=self.params.maxDets[2])
            stats[4] = _summarize(1, areaRng="medium", maxDets=self.params.maxDets[2])
            stats[5] = _summarize(1, areaRng="large", maxDets=self.params.maxDets[2])
            stats[6] = _summarize(0, maxDets=self.params.maxDets[0])
            stats[7] = _summarize(0, maxDets=self.params.maxDets[1])
            stats[8] = _summarize(0, maxDets=self.params.maxDets[2])
            stats[9] = _summarize(0, areaRng="small", maxDets=self.params.maxDets[2])
            stats[10] = _summarize(0, areaRng="medium", maxDets=self.params.maxDets[2])
            stats[11] = _summarize(0, areaRng="large", maxDets=self.params.maxDets[2])
            return stats

        def _summarizeKps() -> np.ndarray:
            stats = np.zeros((10,))
            stats[0] = _summarize(1, maxDets=20)
            stats[1] = _summarize(1, maxDets=20, iouThr=0.5)
            stats[2] = _summarize(1, maxDets=20, iouThr=0.75)
            stats[3] = _summarize(1, maxDets=20, areaRng="medium")
            stats[4] = _summarize(1, maxDets=20, areaRng="large")
            stats[5] = _summarize(0, maxDets=20)
            stats[6] = _summarize(0, maxDets=20, iouThr=0.5)
            stats[7] = _summarize(0, maxDets=20, iouThr=0.75)
            stats[8] = _summarize(0, maxDets=20, areaRng="medium")
            stats[9] = _summarize(0, maxDets=20, areaRng="large")
            return stats

        if not self.eval:
            raise Exception("Please run accumulate() first")
        iouType = self.params.iouType
        if iouType == "segm" or iouType == "bbox":
            summarize = _summarizeDets
        elif iouType == "keypoints":
            summarize = _summarizeKps
        self.stats = summarize()

    def __str__(self) -> str:
        self.summarize()
        return ""
