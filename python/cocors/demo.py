"""The demo job: the Mask API and the lazy COCO index on the bundled val2014 sample, checked
against pycocotools.

For the 839 ground-truth annotations of 100 val2014 images it builds the RLE of each (as
``COCO.annToRLE`` does: polygons rasterised and merged, crowd RLEs compressed), their areas and
boxes, and for every image the IoU matrix of the 734 fake segm detections against its ground
truth (crowd rule included). Every result is hashed and compared with the digests pycocotools
2.0.11 produced on the same data (``data/val2014_100_expected.json``). Then ``cocors.COCO``
indexes the same file and makes every image's masks from its bytes; their RLEs must hash the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from importlib import resources
from typing import Any, Callable, Dict, List

import numpy as np


def _load(name: str) -> Any:
    with resources.files("cocors").joinpath("data", name).open("rb") as f:
        return json.load(f)


def ann_to_rle(mask_api: Any, ann: Dict[str, Any], h: int, w: int) -> Dict[str, Any]:
    """pycocotools' ``COCO.annToRLE`` with the given Mask API module."""
    segm = ann["segmentation"]
    if isinstance(segm, list):
        return mask_api.merge(mask_api.frPyObjects(segm, h, w))
    if isinstance(segm["counts"], list):
        return mask_api.frPyObjects(segm, h, w)
    return segm


def compute(mask_api: Any) -> Dict[str, Any]:
    """Every number of the demo, with one Mask API (cocors.mask or pycocotools.mask)."""
    gt = _load("instances_val2014_100.json")
    dt = _load("instances_val2014_fakesegm100_results.json")
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    rles = [ann_to_rle(mask_api, a, *sizes[a["image_id"]]) for a in gt["annotations"]]
    # pycocotools' area() fails on lists of more than 255 RLEs (numpy 2): use chunks.
    areas = np.concatenate([mask_api.area(rles[i : i + 255]) for i in range(0, len(rles), 255)])
    boxes = mask_api.toBbox(rles)
    by_image: Dict[int, List[int]] = defaultdict(list)
    for i, a in enumerate(gt["annotations"]):
        by_image[a["image_id"]].append(i)
    dets: Dict[int, List[Any]] = defaultdict(list)
    for d in dt:
        dets[d["image_id"]].append(d["segmentation"])
    ious = {}
    for img in sorted(by_image):
        g = [rles[i] for i in by_image[img]]
        crowd = [gt["annotations"][i]["iscrowd"] for i in by_image[img]]
        ious[img] = mask_api.iou(dets[img], g, crowd)
    return {"rles": rles, "areas": areas, "boxes": boxes, "ious": ious}


def digests(result: Dict[str, Any]) -> Dict[str, str]:
    def sha(feed: Callable[[Any], None]) -> str:
        h = hashlib.sha256()
        feed(h)
        return h.hexdigest()

    def rles(h: Any) -> None:
        for r in result["rles"]:
            h.update(repr(list(r["size"])).encode())
            c = r["counts"]
            h.update(c if isinstance(c, bytes) else c.encode())

    def ious(h: Any) -> None:
        for img, m in result["ious"].items():
            h.update(str(img).encode())
            h.update(np.asarray(m, dtype=np.float64).tobytes(order="F"))

    return {
        "rles": sha(rles),
        "areas": sha(lambda h: h.update(np.asarray(result["areas"], dtype=np.uint32).tobytes())),
        "boxes": sha(lambda h: h.update(np.asarray(result["boxes"], dtype=np.float64).tobytes())),
        "ious": sha(ious),
    }


# cocoapi's published segm summary for these fake results (results/val2014_fake_eval_res.txt).
PUBLISHED_SEGM = [0.320, 0.562, 0.299, 0.387, 0.310, 0.327, 0.268, 0.415, 0.417, 0.469, 0.377, 0.381]


def evaluate_segm(coco_cls: Any, eval_cls: Any) -> Dict[str, Any]:
    """COCOeval (segm) of the bundled fake results with the given COCO and COCOeval classes:
    its stats, the sha256 of its precision, recall and scores arrays, and the time it took."""
    import contextlib
    import io

    data = resources.files("cocors").joinpath("data")
    with resources.as_file(data.joinpath("instances_val2014_100.json")) as gt_path, \
            resources.as_file(data.joinpath("instances_val2014_fakesegm100_results.json")) as dt_path:
        with contextlib.redirect_stdout(io.StringIO()):
            gt = coco_cls(str(gt_path))
            dt = gt.loadRes(str(dt_path))
            t0 = time.perf_counter()
            E = eval_cls(gt, dt, "segm")
            E.evaluate()
            E.accumulate()
            E.summarize()
            elapsed = time.perf_counter() - t0
    h = hashlib.sha256()
    for key in ("precision", "recall", "scores"):
        h.update(np.ascontiguousarray(E.eval[key], dtype=np.float64).tobytes())
    return {"stats": [float(v) for v in E.stats], "arrays": h.hexdigest(), "time": elapsed}


def index_rles() -> Dict[str, Any]:
    """The ground-truth RLEs again, through the lazy index: ``cocors.COCO`` on the bundled file,
    each image's masks made in Rust from the file's bytes (``COCO.image_masks``)."""
    import contextlib
    import io

    from cocors import COCO

    with resources.as_file(resources.files("cocors").joinpath("data", "instances_val2014_100.json")) as path:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(path)
        load = time.perf_counter() - t0
        by_id: Dict[int, Any] = {}
        for img in coco.getImgIds():
            by_id.update(zip(coco.getAnnIds(imgIds=img), coco.image_masks(img, decode=False)))
        rles = [by_id[a] for a in coco.getAnnIds()]
        crowd = len(coco.getAnnIds(iscrowd=1))
        return {"rles": rles, "load": load, "images": len(coco.imgs), "crowd": crowd,
                "categories": len(coco.getCatIds())}


def run() -> int:
    import cocors
    import cocors.mask as mask

    t0 = time.perf_counter()
    result = compute(mask)
    elapsed = time.perf_counter() - t0
    got = digests(result)
    want = _load("val2014_100_expected.json")
    n_iou = sum(np.size(m) for m in result["ious"].values())
    print(f"cocors {cocors.__version__}: Mask API demo on 100 val2014 images ({cocors.get_num_threads()} threads)")
    print(f"  {len(result['rles'])} annotation masks built (polygons rasterised and merged, crowd RLEs compressed)")
    print(f"  total foreground area {int(np.sum(result['areas'], dtype=np.int64))} px; "
          f"first box {result['boxes'][0].tolist()}")
    print(f"  {n_iou} detection-vs-ground-truth IoUs over {len(result['ious'])} images; "
          f"mean of positive IoUs {np.mean([v for m in result['ious'].values() for v in np.ravel(m) if v > 0]):.6f}")
    print(f"  computed in {elapsed * 1000:.1f} ms")
    ok = True
    for key in ("rles", "areas", "boxes", "ious"):
        same = got[key] == want[key]
        ok &= same
        print(f"  {key:5s} {'== pycocotools 2.0.11' if same else '!= pycocotools 2.0.11 (MISMATCH)'}  sha256 {got[key][:16]}")
    indexed = index_rles()
    same = digests({**result, "rles": indexed["rles"]})["rles"] == want["rles"]
    ok &= same
    print(f"  cocors.COCO indexed the file in {indexed['load'] * 1000:.1f} ms: {indexed['images']} images, "
          f"{len(indexed['rles'])} annotations ({indexed['crowd']} crowd), {indexed['categories']} categories")
    print(f"  rles  {'== pycocotools 2.0.11' if same else '!= pycocotools 2.0.11 (MISMATCH)'}  "
          "(every image's masks made by the index straight from the file)")
    ev = evaluate_segm(cocors.COCO, cocors.COCOeval)
    want_eval = want.get("eval_segm", {})
    same = ev["arrays"] == want_eval.get("arrays") and ev["stats"] == want_eval.get("stats")
    published = [round(v, 3) for v in ev["stats"]] == PUBLISHED_SEGM
    ok &= same and published
    print(f"  cocors.COCOeval (segm, 734 detections) in {ev['time'] * 1000:.1f} ms: "
          f"AP {ev['stats'][0]:.3f}, AP50 {ev['stats'][1]:.3f}, AR100 {ev['stats'][8]:.3f}")
    print(f"  eval  {'== pycocotools 2.0.11' if same else '!= pycocotools 2.0.11 (MISMATCH)'}  "
          f"(stats, precision, recall, scores){'; summary == cocoapi published' if published else '; != published summary'}")
    print("OK: bit-identical to pycocotools 2.0.11" if ok else "FAILED: results differ from pycocotools")
    return 0 if ok else 1
