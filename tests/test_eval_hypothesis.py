"""Property: on generated ground truth and detections, cocors.COCOeval == pycocotools' COCOeval
(precision, recall, scores, stats, printed summary, evalImgs, ious), for bbox, segm and
keypoints, with random custom params.

The generator aims at the edge cases: crowd regions, images with only ground truth or only
detections, empty images, duplicate scores, areas exactly on the range edges, annotation id 0,
zero-size boxes, keypoints with none visible, num_keypoints 0, useCats=0, odd maxDets. Results
come in each shape loadRes has a branch for (boxes, boxes with polygons, RLEs only, keypoints)
and are given to loadRes as a list or as a file (which cocors indexes in Rust). The same
generated cases also run through code written for pycocotools (it imports `pycocotools.coco`
and `pycocotools.cocoeval` itself) after `cocors.install_as_pycocotools()`."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, Dict, List

import numpy as np
from hypothesis import event, given
from hypothesis import strategies as st
from pycocotools import mask as pymask
from pycocotools.coco import COCO as PyCOCO

import cocors

import cocors.cocoeval
from eval_helpers import assert_array_identical, fresh, quiet, run_both

CATS = [1, 2, 5]
EDGE_AREAS = [0.0, 1.0, 1024.0, 9216.0, 32.0**2 - 0.5, 96.0**2 + 0.25, 1e10]
SCORES = [0.0, 0.1, 0.5, 0.5, 0.9, 1.0, 0.75]
K = 17


@st.composite
def boxes(draw: Any, w: int, h: int) -> List[float]:
    x = draw(st.integers(0, w - 1)) + draw(st.sampled_from([0.0, 0.25, 0.5]))
    y = draw(st.integers(0, h - 1)) + draw(st.sampled_from([0.0, 0.5]))
    bw = draw(st.integers(0, w)) + draw(st.sampled_from([0.0, 0.5]))
    bh = draw(st.integers(0, h)) + draw(st.sampled_from([0.0, 0.75]))
    return [x, y, bw, bh]


def box_polygon(b: List[float]) -> List[List[float]]:
    x1, y1, x2, y2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    return [[x1, y1, x1, y2, x2, y2, x2, y1]]


@st.composite
def keypoints(draw: Any, w: int, h: int, visible: bool) -> List[float]:
    out: List[float] = []
    for _ in range(K):
        v = draw(st.sampled_from([0, 1, 2])) if visible else 0
        out += [float(draw(st.integers(0, w))), float(draw(st.integers(0, h))), v]
    return out


@st.composite
def problems(draw: Any, iou_type: str) -> Dict[str, Any]:
    n_img = draw(st.integers(1, 5))
    images = []
    for i in range(n_img):
        images.append({"id": draw(st.sampled_from([i + 1, 100 + i])) if i else 7, "width": draw(st.integers(8, 40)), "height": draw(st.integers(8, 40))})
    ids = {img["id"] for img in images}
    images = [img for n, img in enumerate(images) if img["id"] in ids and img["id"] not in {x["id"] for x in images[:n]}]
    anns: List[Dict[str, Any]] = []
    results: List[Dict[str, Any]] = []
    # Detections: boxes ("bbox" branch), boxes with polygons (still the bbox branch, masks from
    # the polygons), or RLEs alone (the segm branch: areas and boxes from the masks).
    style = "keypoints" if iou_type == "keypoints" else draw(st.sampled_from(["bbox", "bbox+poly", "rle"]))
    first_id = draw(st.sampled_from([0, 1, 5]))
    for img in images:
        w, h = img["width"], img["height"]
        for _ in range(draw(st.integers(0, 5))):
            b = draw(boxes(w, h))
            crowd = draw(st.sampled_from([0, 0, 0, 0, 1]))
            area = draw(st.one_of(st.just(b[2] * b[3]), st.sampled_from(EDGE_AREAS)))
            ann: Dict[str, Any] = {
                "id": first_id + len(anns),
                "image_id": img["id"],
                "category_id": draw(st.sampled_from(CATS)),
                "bbox": b,
                "area": area,
                "iscrowd": crowd,
                "segmentation": box_polygon(b),
            }
            if iou_type == "keypoints":
                kp = draw(keypoints(w, h, visible=draw(st.booleans())))
                ann["keypoints"] = kp
                n_vis = sum(1 for v in kp[2::3] if v > 0)
                ann["num_keypoints"] = draw(st.sampled_from([n_vis, n_vis, 0]))
            anns.append(ann)
        for _ in range(draw(st.integers(0, 6))):
            det: Dict[str, Any] = {
                "image_id": img["id"],
                "category_id": draw(st.sampled_from(CATS)),
                "score": draw(st.sampled_from(SCORES)),
            }
            if style == "keypoints":
                det["keypoints"] = draw(keypoints(w, h, visible=True))
            else:
                b = draw(boxes(w, h))
                poly = box_polygon(b)
                if draw(st.booleans()):
                    # A triangle instead of the box.
                    poly = [[b[0], b[1], b[0] + b[2], b[1] + b[3] / 2, b[0], b[1] + b[3]]]
                if style != "rle":
                    det["bbox"] = b
                if style == "bbox+poly":
                    det["segmentation"] = poly
                elif style == "rle":
                    rle = pymask.merge(pymask.frPyObjects(poly, h, w))
                    det["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
            results.append(det)
    dataset = {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in CATS]}
    return {"dataset": dataset, "results": results}


@st.composite
def params(draw: Any, iou_type: str) -> Any:
    use_cats = draw(st.sampled_from([1, 1, 0]))
    max_dets = draw(st.sampled_from([None, [1, 2, 3], [0, 1, 100], [2, 1, 5], [1, 10, 1]]))
    area = draw(st.sampled_from([None, [[0, 1e10], [0, 1.0], [1.0, 1024], [1024, 1e10]]]))
    cats = draw(st.sampled_from([None, [2], [5, 1]]))

    def set_params(p: Any) -> None:
        p.useCats = use_cats
        if max_dets is not None and iou_type != "keypoints":
            p.maxDets = list(max_dets)
        if area is not None and iou_type != "keypoints":
            p.areaRng = [list(a) for a in area]
        if cats is not None:
            p.catIds = list(cats)

    return set_params


def check(problem: Dict[str, Any], iou_type: str, set_params: Any, via_file: bool) -> None:
    if iou_type == "keypoints":
        for cat in problem["dataset"]["categories"]:
            cat["keypoints"] = [str(i) for i in range(K)]
    fd, path = tempfile.mkstemp(suffix=".json")
    res_path = path[: -len(".json")] + "_results.json"
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(problem["dataset"], f)
        g_py = quiet(lambda: PyCOCO(path))[0]
        g = quiet(lambda: cocors.COCO(path))[0]
        if not problem["results"]:
            return
        if via_file:
            with open(res_path, "w") as f:
                json.dump(problem["results"], f)
            d_py = quiet(lambda: g_py.loadRes(res_path))[0]
            d = quiet(lambda: g.loadRes(res_path))[0]
            # The results file is read from its Rust index, not from dicts.
            assert d.__dict__.get("_pending") is not None
        else:
            d_py = quiet(lambda: g_py.loadRes(fresh(problem["results"])))[0]
            d = quiet(lambda: g.loadRes(fresh(problem["results"])))[0]
        run_both(g_py, d_py, g, d, iou_type, set_params=set_params)
    finally:
        os.unlink(path)
        if os.path.exists(res_path):
            os.unlink(res_path)


@given(problems("bbox"), params("bbox"), st.booleans())
def test_bbox_equals_pycocotools(problem, set_params, via_file):
    check(problem, "bbox", set_params, via_file)


@given(problems("segm"), params("segm"), st.booleans())
def test_segm_equals_pycocotools(problem, set_params, via_file):
    check(problem, "segm", set_params, via_file)


@given(problems("keypoints"), params("keypoints"), st.booleans())
def test_keypoints_equal_pycocotools(problem, set_params, via_file):
    check(problem, "keypoints", set_params, via_file)


SHIMMED = ("pycocotools", "pycocotools.coco", "pycocotools.mask", "pycocotools._mask", "pycocotools.cocoeval")


def pycocotools_user_code(gt_path: str, results: Any, iou_type: str, set_params: Any) -> Any:
    """An evaluation as code written for pycocotools does it, importing pycocotools itself."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    g = COCO(gt_path)
    E = COCOeval(g, g.loadRes(results), iou_type)
    set_params(E.params)
    E.evaluate()
    E.accumulate()
    try:
        E.summarize()
    except IndexError:  # pycocotools' summarize with fewer than 3 maxDets
        pass
    return E


@given(st.data())
def test_pycocotools_code_under_install_as_pycocotools(data):
    iou_type = data.draw(st.sampled_from(["bbox", "segm", "keypoints"]))
    problem = data.draw(problems(iou_type))
    set_params = data.draw(params(iou_type))
    if not problem["results"]:
        return
    if iou_type == "keypoints":
        for cat in problem["dataset"]["categories"]:
            cat["keypoints"] = [str(i) for i in range(K)]
    fd, path = tempfile.mkstemp(suffix=".json")
    saved = {name: sys.modules.get(name) for name in SHIMMED}
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(problem["dataset"], f)
        theirs = quiet(lambda: pycocotools_user_code(path, fresh(problem["results"]), iou_type, set_params))[0]
        cocors.install_as_pycocotools()
        try:
            ours = quiet(lambda: pycocotools_user_code(path, fresh(problem["results"]), iou_type, set_params))[0]
        except cocors.EvalError:
            event("cocors refused")
            # A case pycocotools gets through but cocors refuses (fewer than 3 maxDets reach
            # summarize only): not what this test is about.
            return
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        os.unlink(path)
    assert isinstance(ours, cocors.cocoeval.COCOeval), type(ours)
    for key in ("precision", "recall", "scores"):
        assert_array_identical(ours.eval[key], theirs.eval[key], f"eval[{key!r}]")
    event(f"{iou_type}, stats compared: {bool(len(theirs.stats))}")
    if len(theirs.stats):
        assert_array_identical(ours.stats, theirs.stats, "stats")
