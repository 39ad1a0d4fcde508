"""cocors.COCOeval == pycocotools' COCOeval on the real samples in tests/data: every array,
stats, the printed summary, evalImgs and ious; custom params; the published summaries; the
one-call API, the command line and install_as_pycocotools."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO as PyCOCO

import cocors
from cocors.cocoeval import COCOeval

from eval_helpers import assert_array_identical, quiet, run_both

DATA = Path(__file__).parent / "data"
GT = DATA / "instances_val2014_100.json"
BBOX = DATA / "instances_val2014_fakebbox100_results.json"
SEGM = DATA / "instances_val2014_fakesegm100_results.json"
KP = [
    (DATA / "person_keypoints_example_val.json", DATA / "person_keypoints_example_preds.json"),
    (DATA / "keypoints_crowd_gt.json", DATA / "keypoints_crowd_dt.json"),
]

CASES = [
    (GT, BBOX, "bbox"),
    (GT, SEGM, "segm"),
    (GT, SEGM, "bbox"),  # segm results evaluated by their boxes
    (GT, BBOX, "segm"),  # bbox results evaluated as box polygons
    (KP[0][0], KP[0][1], "keypoints"),
    (KP[1][0], KP[1][1], "keypoints"),
    (KP[0][0], KP[0][1], "bbox"),
]


def load_both(gt: Path, dt: Path):
    (g_py, d_py), _ = quiet(lambda: (lambda g: (g, g.loadRes(str(dt))))(PyCOCO(str(gt))))
    (g, d), _ = quiet(lambda: (lambda g: (g, g.loadRes(str(dt))))(cocors.COCO(str(gt))))
    return g_py, d_py, g, d


@pytest.mark.parametrize("gt,dt,iou_type", CASES, ids=[f"{c[0].stem}-{c[1].stem}-{c[2]}" for c in CASES])
def test_file_backed_equals_pycocotools(gt, dt, iou_type):
    g_py, d_py, g, d = load_both(gt, dt)
    # The results file is evaluated from its Rust index: no result dict is ever built.
    assert d.__dict__.get("_pending") is not None
    run_both(g_py, d_py, g, d, iou_type)
    assert d.__dict__.get("_pending") is not None


@pytest.mark.parametrize("iou_type,dt", [("bbox", BBOX), ("segm", SEGM)])
def test_edits_to_result_dicts_are_evaluated(iou_type, dt):
    """Reading a results file's dicts builds them (as pycocotools' loadRes does); edits made to
    them then count in the evaluation, as they do in pycocotools."""
    g_py, d_py, g, d = load_both(GT, dt)
    for res in (d_py, d):
        anns = res.dataset["annotations"]
        for a in anns[::3]:
            a["score"] = 1.0 - a["score"]
        anns[5]["category_id"] = anns[6]["category_id"]
        res.createIndex()
    assert d.__dict__.get("_pending") is None
    run_both(g_py, d_py, g, d, iou_type)
    # A dataset replaced before anything was read is the one indexed.
    g_py, d_py, g, d = load_both(GT, dt)
    for res in (d_py, d):
        res.dataset = {"images": list(g_py.dataset["images"]), "categories": list(g_py.dataset["categories"]),
                       "annotations": [a for a in quiet(lambda: g_py.loadRes(str(dt)))[0].dataset["annotations"]
                                       if a["score"] > 0.5]}
        quiet(res.createIndex)
    run_both(g_py, d_py, g, d, iou_type)


def test_results_files_off_the_usual_shapes(tmp_path):
    """Results files that the Rust index does not take (an empty first box, which pycocotools
    keeps in its segm branch; float image ids) go through json.load exactly as pycocotools'."""
    with open(SEGM) as f:
        segm = json.load(f)
    with open(BBOX) as f:
        bbox = json.load(f)
    odd_segm = copy.deepcopy(segm)
    odd_segm[0]["bbox"] = []
    odd_ids = copy.deepcopy(bbox)
    for a in odd_ids[::2]:
        a["image_id"] = float(a["image_id"])
    for name, results, iou_type in (("segm", odd_segm, "segm"), ("ids", odd_ids, "bbox")):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(results))
        g_py, d_py, g, d = load_both(GT, path)
        assert d.__dict__.get("_pending") is None
        run_both(g_py, d_py, g, d, iou_type)


def test_bad_results_files(tmp_path):
    g = quiet(lambda: cocors.COCO(str(GT)))[0]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"image_id": 139, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},\n {"image_id": }]')
    with pytest.raises(cocors.ParseError, match=r"bad\.json:2:15: invalid JSON"):
        quiet(lambda: g.loadRes(str(bad)))
    with open(BBOX) as f:
        res = json.load(f)
    foreign = copy.deepcopy(res)
    foreign[4]["image_id"] = 10**12
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    with pytest.raises(AssertionError, match="Results do not correspond to current coco set"):
        quiet(lambda: g.loadRes(str(path)))
    no_score = copy.deepcopy(res)
    del no_score[3]["score"]
    path = tmp_path / "no_score.json"
    path.write_text(json.dumps(no_score))
    E = COCOeval(g, quiet(lambda: g.loadRes(str(path)))[0], "bbox")
    with pytest.raises(cocors.SchemaError, match=r"no_score\.json.*results\[3\].*score"):
        quiet(E.evaluate)


@pytest.mark.parametrize("iou_type,dt", [("bbox", BBOX), ("segm", SEGM)])
def test_pycocotools_and_dict_objects_work_too(iou_type, dt):
    """A pycocotools COCO (through loadAnns dicts) and a dict-backed cocors COCO give the same."""
    g_py, d_py, _, _ = load_both(GT, dt)
    g2, d2, _, _ = load_both(GT, dt)
    run_both(g_py, d_py, g2, d2, iou_type, deep=False)
    with open(GT) as f:
        dataset = json.load(f)
    (g3, d3), _ = quiet(lambda: (lambda g: (g, g.loadRes(str(dt))))(cocors.COCO(dataset)))
    g4, d4, _, _ = load_both(GT, dt)
    run_both(g4, d4, g3, d3, iou_type, deep=False)


def test_published_summaries():
    """The summaries cocoapi publishes for the fake results (3 decimals)."""
    text = (DATA / "val2014_fake_eval_res.txt").read_text()
    published = {}
    for block in text.split("type=")[1:]:
        kind = block.split()[0]
        published[kind] = [float(v) for v in re.findall(r"\] = (-?[0-9.]+)", block)]
    for kind, dt in (("bbox", BBOX), ("segm", SEGM)):
        result = cocors.evaluate(GT, dt, kind)
        assert [round(float(s), 3) for s in result["stats"]] == published[kind][:12]


def custom_params():
    """Parameter changes users make, each applied to both implementations."""
    def img_subset(p):
        p.imgIds = p.imgIds[5:40]

    def cat_subset(p):
        p.catIds = [1, 3, 18, 62]

    def no_cats(p):
        p.useCats = 0

    def max_dets(p):
        p.maxDets = [1, 10, 300]  # stats[0] becomes -1, as in pycocotools (cocoapi #558)

    def max_dets_small(p):
        p.maxDets = [3, 1, 2]

    def area_edges(p):
        p.areaRng = [[0, 1e10], [0, 2000.5], [2000.5, 5000], [5000, 1e10]]

    def iou_grid(p):
        p.iouThrs = np.array([0.3, 0.5, 0.5, 0.9999999999, 1.0])

    def rec_grid(p):
        p.recThrs = np.linspace(0, 1, 11)

    def no_thresholds(p):
        p.iouThrs = np.array([])  # evaluate and accumulate work; only summarize fails

    return [img_subset, cat_subset, no_cats, max_dets, max_dets_small, area_edges, iou_grid, rec_grid,
            no_thresholds]


@pytest.mark.parametrize("set_params", custom_params(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("iou_type,dt", [("bbox", BBOX), ("segm", SEGM)])
def test_custom_params(set_params, iou_type, dt):
    run_both(*load_both(GT, dt), iou_type, set_params=set_params)


def test_keypoints_without_cats():
    # pycocotools' computeOks reads the (imgId, -1) group, which is empty: nothing matches.
    run_both(*load_both(*KP[0]), "keypoints", set_params=lambda p: setattr(p, "useCats", 0))


def test_accumulate_with_other_params():
    """accumulate(p) with a p that differs from the evaluated params, resolved the way
    pycocotools resolves it."""
    g_py, d_py, g, d = load_both(GT, BBOX)
    from pycocotools.cocoeval import COCOeval as PyCOCOeval

    theirs, ours = PyCOCOeval(g_py, d_py, "bbox"), COCOeval(g, d, "bbox")
    for E in (theirs, ours):
        quiet(E.evaluate)
        p = copy.deepcopy(E.params)
        p.catIds = p.catIds[:20]
        p.maxDets = [10, 100]
        p.areaRng = p.areaRng[:2]
        p.imgIds = p.imgIds[:50]
        quiet(lambda: E.accumulate(p))
    for key in ("precision", "recall", "scores"):
        assert_array_identical(ours.eval[key], theirs.eval[key], key)


@pytest.mark.parametrize(
    "edit",
    [
        lambda ids: [int(i) for i in ids],  # equal values, other objects: the list fast path
        lambda ids: list(reversed(ids)),  # same ids, other order: the set lookup
        lambda ids: np.array(ids[::2]),  # an array: the set lookup
        lambda ids: ids + [10**12],  # an id that was not evaluated
    ],
)
def test_accumulate_with_image_ids_replaced(edit):
    """accumulate() after the image ids were replaced since evaluate(): accumulate's
    ``i_list`` (indices of p.imgIds found in the evaluated ids) as pycocotools derives it,
    whether cocors takes its shortcut for ids equal to the evaluated ones or not."""
    g_py, d_py, g, d = load_both(GT, BBOX)
    from pycocotools.cocoeval import COCOeval as PyCOCOeval

    theirs, ours = PyCOCOeval(g_py, d_py, "bbox"), COCOeval(g, d, "bbox")
    for E in (theirs, ours):
        quiet(E.evaluate)
        E.params.imgIds = edit(list(E.params.imgIds))
        quiet(E.accumulate)
    for key in ("precision", "recall", "scores"):
        assert_array_identical(ours.eval[key], theirs.eval[key], key)


def test_params_edited_in_place_after_evaluate():
    """evaluate() keeps a snapshot of the params (pycocotools' deepcopy ``_paramsEval``):
    lists edited in place afterwards change ``p`` but not the snapshot, and accumulate()
    resolves the two exactly as pycocotools does."""
    g_py, d_py, g, d = load_both(GT, BBOX)
    from pycocotools.cocoeval import COCOeval as PyCOCOeval

    theirs, ours = PyCOCOeval(g_py, d_py, "bbox"), COCOeval(g, d, "bbox")
    for E in (theirs, ours):
        quiet(E.evaluate)
        E.params.catIds[3] = -7
        del E.params.imgIds[10:]
        E.params.areaRng[1][1] = 1e3
        E.params.maxDets[0] = 5
        quiet(E.accumulate)
    assert ours._paramsEval.imgIds[10:] == theirs._paramsEval.imgIds[10:]
    assert ours._paramsEval.areaRng == theirs._paramsEval.areaRng
    for key in ("precision", "recall", "scores"):
        assert_array_identical(ours.eval[key], theirs.eval[key], key)


def test_one_call_and_command_line():
    result = cocors.evaluate(str(GT), str(SEGM), "segm")
    g_py, d_py, g, d = load_both(GT, SEGM)
    ours, theirs = run_both(g_py, d_py, g, d, "segm", deep=False)
    assert_array_identical(result["stats"], theirs.stats, "stats")
    assert_array_identical(result["precision"], theirs.eval["precision"], "precision")
    out = subprocess.run(
        [sys.executable, "-m", "cocors", "eval", str(GT), str(SEGM), "--iou-type", "segm"],
        capture_output=True, text=True, check=True,
    ).stdout
    _, printed = quiet(theirs.summarize)
    assert out == printed


def test_install_as_pycocotools_runs_cocors_eval():
    code = f"""
import cocors
cocors.install_as_pycocotools()
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
import cocors.cocoeval
assert COCOeval is cocors.cocoeval.COCOeval, COCOeval
g = COCO({str(GT)!r}); d = g.loadRes({str(BBOX)!r})
E = COCOeval(g, d, 'bbox'); E.evaluate(); E.accumulate(); E.summarize()
print('STATS', repr(E.stats.tolist()))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    stats = eval(out.split("STATS ")[1])
    g_py, d_py, g, d = load_both(GT, BBOX)
    _, theirs = run_both(g_py, d_py, g, d, "bbox", deep=False)
    assert stats == theirs.stats.tolist()


def test_results_do_not_depend_on_threads():
    g_py, d_py, g, d = load_both(GT, SEGM)
    got = []
    for n in (1, 2, 3):
        cocors.set_num_threads(n)
        E = COCOeval(g, d, "segm")
        quiet(E.evaluate)
        quiet(E.accumulate)
        got.append(E.eval["precision"])
    cocors.set_num_threads(0)
    for p in got[1:]:
        assert_array_identical(p, got[0], "precision")


def keypoint_files(tmp_path: Path, images: int = 600):
    """Generated people with keypoints on `images` images (some unlabelled: `0,0,0`), and
    detections near them or elsewhere: enough cells that OKS and accumulate take their
    parallel paths (the `exp` groups, the (category, area range) slots)."""
    rng = np.random.default_rng(11)
    imgs, anns, dets = [], [], []
    for i in range(1, images + 1):
        imgs.append({"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"})
        for _ in range(int(rng.integers(0, 5))):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(5, 140), rng.uniform(5, 130)
            kp = []
            for _ in range(17):
                v = int(rng.choice([0, 1, 2], p=[0.4, 0.2, 0.4]))
                kp += [0, 0, 0] if v == 0 else [int(x + rng.uniform(0, w)), int(y + rng.uniform(0, h)), v]
            n = sum(1 for j in range(17) if kp[3 * j + 2] > 0)
            aid = len(anns) + 1
            anns.append({"id": aid, "image_id": i, "category_id": 1, "iscrowd": int(rng.random() < 0.03),
                         "area": round(w * h * 0.7, 2), "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                         "num_keypoints": n, "keypoints": kp})
            for _ in range(int(rng.integers(0, 3))):
                s = rng.uniform(0.5, 15) if rng.random() < 0.8 else rng.uniform(50, 300)
                dk = []
                for j in range(17):
                    bx, by = (kp[3 * j], kp[3 * j + 1]) if kp[3 * j + 2] else (x + w / 2, y + h / 2)
                    dk += [round(float(bx + rng.normal(0, s)), 2), round(float(by + rng.normal(0, s)), 2), 1]
                dets.append({"image_id": i, "category_id": 1, "keypoints": dk, "score": round(float(rng.random()), 3)})
    gt = {"images": imgs, "annotations": anns, "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}
    gp, dp = tmp_path / "kp_gt.json", tmp_path / "kp_dt.json"
    gp.write_text(json.dumps(gt, separators=(",", ":")))
    dp.write_text(json.dumps(dets, separators=(",", ":")))
    return gp, dp


@pytest.mark.parametrize("iou_type", ["keypoints", "bbox"])
def test_many_keypoint_images_equal_pycocotools_at_every_thread_count(tmp_path, iou_type):
    # bbox: one category, four area ranges, three maxDets (accumulate's parallel slots, and
    # maxDets whose picks are the same detections copied).
    gp, dp = keypoint_files(tmp_path)
    g_py, d_py, g, d = load_both(gp, dp)
    try:
        for n in (1, 2, 3):
            cocors.set_num_threads(n)
            run_both(g_py, d_py, g, d, iou_type, deep=n == 2)
    finally:
        cocors.set_num_threads(0)


# -- errors ------------------------------------------------------------------------------------


def test_errors_are_clear():
    g = quiet(lambda: cocors.COCO(str(GT)))[0]
    with open(BBOX) as f:
        res = json.load(f)
    del res[3]["score"]
    d = quiet(lambda: g.loadRes(res))[0]
    E = COCOeval(g, d, "bbox")
    with pytest.raises(cocors.SchemaError, match=r"annotations\[3\] \(id 4\).*score"):
        quiet(E.evaluate)

    E = COCOeval(g, quiet(lambda: g.loadRes(str(BBOX)))[0], "bbox")
    with pytest.raises(Exception, match="Please run accumulate"):
        E.summarize()
    with pytest.raises(cocors.EvalError, match="evaluate"):
        quiet(E.accumulate)
    E.params.maxDets = [1, 10]
    quiet(E.evaluate)
    quiet(E.accumulate)
    with pytest.raises(cocors.EvalError, match="3 maxDets"):
        quiet(E.summarize)
    with pytest.raises(Exception, match="iouType not supported"):
        COCOeval(g, d, "boxes")


def test_unlabelled_ground_truth_of_any_keypoint_list_equals_pycocotools(tmp_path):
    """computeOks measures a ground truth with no visible keypoint from its box and never
    reads its list, which may then be empty or of any length; one without `keypoints` fails
    (KeyError there, EvalError here) where it has detections."""
    gp, dp = keypoint_files(tmp_path, images=60)
    gt = json.loads(gp.read_text())
    people = gt["annotations"]
    odd = [[], [0, 0, 0] * 5, [1, 2, 0, 3, 4, 0, 5], [7, 8, -1] * 18]
    for n, ann in enumerate(people[:40]):
        if n % 3 == 0:
            ann["keypoints"] = odd[(n // 3) % len(odd)]
            ann["num_keypoints"] = 0
    gp.write_text(json.dumps(gt))
    g_py, d_py, g, d = load_both(gp, dp)
    run_both(g_py, d_py, g, d, "keypoints")
    # The same ground truth as dicts (the path of a COCO built from a dict).
    g_dict = quiet(lambda: cocors.COCO(json.loads(gp.read_text())))[0]
    run_both(g_py, d_py, g_dict, quiet(lambda: g_dict.loadRes(str(dp)))[0], "keypoints")
    # A list of the wrong length with a visible keypoint, or no list, where the image has
    # detections: both fail.
    from pycocotools.cocoeval import COCOeval as PyCOCOeval

    with_dets = {x["image_id"] for x in json.loads(dp.read_text())}
    target = next(a["id"] for n, a in enumerate(people) if n % 3 and a["image_id"] in with_dets)
    for change in ("visible", "absent"):
        doc = json.loads(gp.read_text())
        ann = next(a for a in doc["annotations"] if a["id"] == target)
        if change == "visible":
            ann["keypoints"], ann["num_keypoints"] = [1, 2, 2, 3], 1
        else:
            del ann["keypoints"]
        path = tmp_path / f"{change}.json"
        path.write_text(json.dumps(doc))
        g_py = quiet(lambda: PyCOCO(str(path)))[0]
        theirs = PyCOCOeval(g_py, quiet(lambda: g_py.loadRes(str(dp)))[0], "keypoints")
        with pytest.raises((KeyError, ValueError, IndexError)):
            quiet(theirs.evaluate)
        g = quiet(lambda: cocors.COCO(str(path)))[0]
        ours = COCOeval(g, quiet(lambda: g.loadRes(str(dp)))[0], "keypoints")
        with pytest.raises(cocors.EvalError, match="keypoint values"):
            quiet(ours.evaluate)


def test_keypoint_length_mismatch_is_an_error():
    gk = quiet(lambda: cocors.COCO(str(KP[0][0])))[0]
    with open(KP[0][1]) as f:
        preds = json.load(f)
    preds[0]["keypoints"] = preds[0]["keypoints"][:-3]
    d = quiet(lambda: gk.loadRes(preds))[0]
    E = COCOeval(gk, d, "keypoints")
    with pytest.raises(cocors.EvalError, match="keypoint values"):
        quiet(E.evaluate)


def test_missing_iscrowd_in_dict_ground_truth():
    with open(GT) as f:
        dataset = json.load(f)
    del dataset["annotations"][7]["iscrowd"]
    g = quiet(lambda: cocors.COCO(dataset))[0]
    d = quiet(lambda: g.loadRes(str(BBOX)))[0]
    E = COCOeval(g, d, "bbox")
    with pytest.raises(cocors.SchemaError, match=r"annotations\[\d+\] \(id \d+\).*iscrowd"):
        quiet(E.evaluate)
