"""cocors.COCO against pycocotools.coco.COCO on real COCO, LVIS, keypoint and panoptic files
(tests/data): every attribute, a sweep of every query method, masks, loadRes of real bbox,
segm, keypoint and caption results, the extras (image_targets, image_masks), pickling and
install_as_pycocotools. Skipped until cocors has a COCO (COCORS_TEST_SELF_CHECK=1 runs it with
pycocotools on both sides, to check the tests themselves)."""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import pickle
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from coco_helpers import (
    assert_coco_equal,
    assert_strict,
    check_ann_masks,
    check_image_extras,
    load_impl,
    py_coco,
    quiet,
    same_call,
)

impl = load_impl()

# Ground-truth documents pycocotools 2.0.11 loads. (panoptic_examples.json it cannot load:
# its annotations are panoptic records without an "id", see test_panoptic_examples_refused.)
GT_FILES = [
    "instances_val2014_100.json",
    "person_keypoints_example_val.json",
    "keypoints_crowd_gt.json",
    "lvis_val_100.json",
    "panoptic_coco_detection_format.json",
]


def ours_coco(source):
    with quiet():
        return impl.COCO(source)


@pytest.fixture(params=GT_FILES)
def pair(request, data_dir):
    """A fresh (cocors, pycocotools) pair per test: pycocotools' catToImgs gains keys as
    getImgIds looks up unknown categories."""
    path = str(data_dir / request.param)
    return ours_coco(path), py_coco(path)


# ----------------------------------------------------------------------------------------------
# Construction and attributes


def test_attributes(pair):
    ours, theirs = pair
    assert_coco_equal(ours, theirs)


@pytest.mark.parametrize("name", GT_FILES)
def test_pathlike_dict_and_create_index(name, data_dir):
    path = data_dir / name
    theirs = py_coco(str(path))
    assert_coco_equal(ours_coco(path), theirs)  # os.PathLike
    with open(path) as f:
        assert_coco_equal(ours_coco(json.load(f)), theirs)  # an in-memory dict
    c = ours_coco(None)
    with open(path) as f:
        c.dataset = json.load(f)
    with quiet():
        c.createIndex()
    assert_coco_equal(c, theirs)


def test_empty_constructor_matches():
    ours, theirs = ours_coco(None), py_coco(None)
    assert_coco_equal(ours, theirs)
    same_call(lambda: ours.getImgIds(), lambda: theirs.getImgIds(), "getImgIds() of an empty COCO")
    same_call(lambda: ours.getAnnIds(), lambda: theirs.getAnnIds(), "getAnnIds() of an empty COCO")


def test_json_gz(tmp_path, data_dir):
    src = data_dir / "person_keypoints_example_val.json"
    gz = tmp_path / "person_keypoints_example_val.json.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    theirs = py_coco(str(src))  # pycocotools cannot read .gz: compare with the plain file
    assert_coco_equal(ours_coco(str(gz)), theirs)
    assert_coco_equal(ours_coco(gz), theirs)


def test_panoptic_examples_refused(data_dir):
    # Panoptic records (file_name, segments_info) have no "id": pycocotools raises KeyError in
    # createIndex; cocors must refuse the file with a schema error naming the record and field.
    path = str(data_dir / "panoptic_examples.json")
    with pytest.raises(KeyError):
        py_coco(path)
    with pytest.raises(impl.CocorsError) as info:
        ours_coco(path)
    if not impl.self_check:
        assert isinstance(info.value, impl.SchemaError)
        msg = str(info.value)
        assert "annotations[0]" in msg and "id" in msg, msg


def test_info_prints_the_same(pair):
    ours, theirs = pair
    out_ours, out_theirs = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_theirs):
        theirs.info()
    with contextlib.redirect_stdout(out_ours):
        ours.info()
    assert out_ours.getvalue() == out_theirs.getvalue()
    assert out_theirs.getvalue()


def test_info_missing_is_key_error(data_dir):
    with open(data_dir / "panoptic_coco_detection_format.json") as f:
        d = json.load(f)
    del d["info"]
    ours, theirs = ours_coco(copy.deepcopy(d)), py_coco(d)
    same_call(ours.info, theirs.info, "info() without dataset['info']")


# ----------------------------------------------------------------------------------------------
# Query methods


def _popular_cats(theirs, n):
    return [c for c, _ in Counter(a["category_id"] for a in theirs.dataset["annotations"]).most_common(n)]


def test_get_ann_ids(pair):
    ours, theirs = pair
    img_ids = list(theirs.imgs)
    cats = (_popular_cats(theirs, 4) * 4)[:4]
    areas = sorted(a["area"] for a in theirs.dataset["annotations"])
    lo, mid, hi = areas[0], areas[len(areas) // 2], areas[-1]
    absent = max(theirs.anns) + 12345
    img_filters = [
        [],
        img_ids,
        img_ids[::-1],
        img_ids[:3] + [absent] + img_ids[:1],  # unknown ids skipped, repeats kept
        img_ids[0],
        np.int64(img_ids[-1]),
        np.array(img_ids[:5], dtype=np.int64),
        tuple(img_ids[2:6]),
        [absent],
        "1",  # a str is iterated: its characters match nothing
    ]
    cat_filters = [[], cats[:1], cats[:3], cats[0], np.array(cats[:2]), set(cats[1:3]), [absent], (cats[-1],)]
    area_filters = [
        [],
        [0, 1e10],
        [0, 32**2],
        [32**2, 96**2],
        [96**2, 1e10],
        [lo, hi],  # strict bounds: the smallest and largest areas are excluded
        [mid, mid],
        [np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)],
        [lo - 1, lo],
        [float("-inf"), float("inf")],
        [float("nan"), 1e10],
        np.array([100.0, 5000.0]),
        (0, 1000, 99),
        [5],  # one bound: IndexError in pycocotools
    ]
    crowd_filters = [None, False, True, 0, 1]
    calls = 0
    for imgs in img_filters:
        for crowd in crowd_filters:
            same_call(
                lambda: ours.getAnnIds(imgIds=imgs, iscrowd=crowd),
                lambda: theirs.getAnnIds(imgIds=imgs, iscrowd=crowd),
                f"getAnnIds(imgIds={imgs!r}, iscrowd={crowd!r})",
            )
            calls += 1
    for catf in cat_filters:
        for areaf in area_filters:
            same_call(
                lambda: ours.getAnnIds(catIds=catf, areaRng=areaf),
                lambda: theirs.getAnnIds(catIds=catf, areaRng=areaf),
                f"getAnnIds(catIds={catf!r}, areaRng={areaf!r})",
            )
            calls += 1
    for imgs in img_filters[:6]:
        for catf in cat_filters[:5]:
            for areaf in area_filters[:7]:
                for crowd in (None, 0, True):
                    same_call(
                        lambda: ours.getAnnIds(imgs, catf, areaf, crowd),
                        lambda: theirs.getAnnIds(imgs, catf, areaf, crowd),
                        f"getAnnIds({imgs!r}, {catf!r}, {areaf!r}, {crowd!r})",
                    )
                    calls += 1
    same_call(lambda: ours.getAnnIds(), lambda: theirs.getAnnIds(), "getAnnIds()")
    assert calls > 700


def test_get_img_ids(pair):
    ours, theirs = pair
    img_ids = list(theirs.imgs)
    cats = (_popular_cats(theirs, 6) * 4)[:6]
    absent_img, absent_cat = max(theirs.imgs) + 99991, max(theirs.cats) + 99991
    img_filters = [
        [],
        img_ids,
        img_ids[::-1],
        img_ids[:7] + [absent_img, img_ids[0]],  # ids are not validated: unknown ones stay
        [absent_img, img_ids[-1]],
        img_ids[0],
        np.int64(img_ids[-1]),
        np.array(img_ids[:20], dtype=np.int64),  # np.int64 elements may come back (set order)
        tuple(img_ids[5:30]),
    ]
    cat_filters = [
        [],
        cats[:1],
        cats[:2],
        cats[1:4],
        cats[::-1],
        cats[0],
        np.int64(cats[1]),
        np.array(cats[:3]),
        [absent_cat],
        [cats[0], absent_cat],
    ]
    for imgs in img_filters:
        for catf in cat_filters:
            same_call(
                lambda: ours.getImgIds(imgIds=imgs, catIds=catf),
                lambda: theirs.getImgIds(imgIds=imgs, catIds=catf),
                f"getImgIds(imgIds={imgs!r}, catIds={catf!r})",
            )
    for c in list(theirs.cats)[:60]:
        same_call(lambda: ours.getImgIds(catIds=[c]), lambda: theirs.getImgIds(catIds=[c]), f"getImgIds(catIds=[{c}])")


def test_get_cat_ids(pair):
    ours, theirs = pair
    cats = theirs.dataset["categories"]
    names = [c["name"] for c in cats]
    sups = sorted({c["supercategory"] for c in cats if "supercategory" in c})
    cat_ids = [c["id"] for c in cats]
    name_filters = [[], names[:1], names[::-7], names[-3:] + ["no such name"], names[0], "hot dog", "teddy bear", ""]
    sup_filters = [[], sups[:1], sups[::-1], sups[0] if sups else "person", ["no such sup"]]
    id_filters = [[], cat_ids[:5], cat_ids[0], np.array(cat_ids[-4:]), [max(cat_ids) + 1]]
    for nm in name_filters:
        for sp in sup_filters:
            for ci in id_filters:
                same_call(
                    lambda: ours.getCatIds(catNms=nm, supNms=sp, catIds=ci),
                    lambda: theirs.getCatIds(catNms=nm, supNms=sp, catIds=ci),
                    f"getCatIds({nm!r}, {sp!r}, {ci!r})",
                )


def test_get_cat_ids_str_is_substring_match(data_dir):
    # _isArrayLike('hot dog') is true, so `name in 'hot dog'` is a substring test: 'dog' matches.
    path = str(data_dir / "instances_val2014_100.json")
    ours, theirs = ours_coco(path), py_coco(path)
    want = theirs.getCatIds(catNms="hot dog")
    assert len(want) == 2
    assert_strict(ours.getCatIds(catNms="hot dog"), want)
    assert_strict(ours.getCatIds(supNms="outdoor animal"), theirs.getCatIds(supNms="outdoor animal"))


def test_load_anns_cats_imgs(pair):
    ours, theirs = pair
    for name, ids in (("Anns", list(theirs.anns)), ("Cats", list(theirs.cats)), ("Imgs", list(theirs.imgs))):
        mine, ref = getattr(ours, "load" + name), getattr(theirs, "load" + name)
        absent = max(ids) + 4242
        for arg in (
            ids,
            ids[::-1],
            ids[:3] + ids[:1],
            tuple(ids[-5:]),
            np.array(ids[:9], dtype=np.int64),
            [],
            ids[0],  # an exact int: a one-element list
            ids[-1],
            np.int64(ids[0]),  # anything else: None
            np.int32(ids[0]),
            float(ids[0]),
            True,
            None,
            [absent],  # KeyError
            absent,
            [ids[0], absent],
        ):
            same_call(lambda: mine(arg), lambda: ref(arg), f"load{name}({arg!r})")
        same_call(lambda: mine(), lambda: ref(), f"load{name}()")


def test_ann_to_rle_and_mask(pair):
    ours, theirs = pair
    anns = theirs.dataset["annotations"]
    n = check_ann_masks(ours, theirs, anns)
    # pycocotools converts every real annotation that has a segmentation.
    assert n == sum(1 for a in anns if "segmentation" in a)
    # cocors' own records work as arguments too.
    assert check_ann_masks(ours, theirs, list(ours.dataset["annotations"])[:50]) == min(n, 50) or n == 0


def test_image_targets_and_masks(pair):
    ours, theirs = pair
    ids = list(theirs.imgs)
    targets, masks = check_image_extras(ours, theirs, ids)
    assert targets == len(ids)
    if all("segmentation" in a for a in theirs.dataset["annotations"]):
        assert masks == len(ids)
    else:  # keypoints_crowd_gt.json: no segmentation at all
        assert masks == 0


# ----------------------------------------------------------------------------------------------
# loadRes


def _captions_gt(data_dir):
    """A minimal captions ground truth for the 1000 fake caption results (none is published
    with them): their image ids plus two images with no result, some captions, no categories,
    no info (loadRes falls back to {})."""
    with open(data_dir / "captions_val2014_fakecap_results.json") as f:
        res = json.load(f)
    ids = sorted({r["image_id"] for r in res})
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"COCO_val2014_{i:012d}.jpg"} for i in ids]
    images += [{"id": 1, "width": 10, "height": 10, "file_name": "x.jpg"}, {"id": 2, "width": 3, "height": 4}]
    anns = [{"id": k + 1, "image_id": i, "caption": f"caption {k} é"} for k, i in enumerate(ids[::50])]
    return {"images": images[::-1], "annotations": anns}


LOADRES_CASES = [
    ("instances_val2014_100.json", "instances_val2014_fakebbox100_results.json"),
    ("instances_val2014_100.json", "instances_val2014_fakesegm100_results.json"),
    ("person_keypoints_example_val.json", "person_keypoints_example_preds.json"),  # keypoints
    ("keypoints_crowd_gt.json", "keypoints_crowd_dt.json"),  # has bbox: the bbox branch
    ("captions", "captions_val2014_fakecap_results.json"),
]


def _gt_path(data_dir, tmp_path, gt):
    if gt == "captions":
        p = tmp_path / "captions_gt.json"
        p.write_text(json.dumps(_captions_gt(data_dir)))
        return str(p)
    return str(data_dir / gt)


def _check_res(ours_res, theirs_res, data_dir):
    assert_coco_equal(ours_res, theirs_res)
    anns = theirs_res.dataset["annotations"]
    img_ids = list(theirs_res.imgs)
    same_call(lambda: ours_res.getAnnIds(), lambda: theirs_res.getAnnIds(), "res.getAnnIds()")
    same_call(
        lambda: ours_res.getAnnIds(imgIds=img_ids[:5], iscrowd=0),
        lambda: theirs_res.getAnnIds(imgIds=img_ids[:5], iscrowd=0),
        "res.getAnnIds(imgIds, iscrowd=0)",
    )
    same_call(
        lambda: ours_res.getAnnIds(areaRng=[0, 32**2]), lambda: theirs_res.getAnnIds(areaRng=[0, 32**2]), "res areaRng"
    )
    if theirs_res.cats:
        c = anns[0]["category_id"]
        same_call(lambda: ours_res.getImgIds(catIds=[c]), lambda: theirs_res.getImgIds(catIds=[c]), "res.getImgIds")
        same_call(lambda: ours_res.getCatIds(), lambda: theirs_res.getCatIds(), "res.getCatIds()")
    same_call(lambda: ours_res.loadAnns([1, 2, 3]), lambda: theirs_res.loadAnns([1, 2, 3]), "res.loadAnns")
    check_ann_masks(ours_res, theirs_res, anns[:200])
    check_image_extras(ours_res, theirs_res, img_ids[:30])


@pytest.mark.parametrize("gt,res", LOADRES_CASES, ids=[r for _, r in LOADRES_CASES])
def test_load_res_path_and_list(gt, res, data_dir, tmp_path):
    gt_path = _gt_path(data_dir, tmp_path, gt)
    ours, theirs = ours_coco(gt_path), py_coco(gt_path)
    res_path = str(data_dir / res)
    with quiet():
        theirs_res = theirs.loadRes(res_path)
        ours_res = ours.loadRes(res_path)
    _check_res(ours_res, theirs_res, data_dir)
    with open(res_path) as f:
        results = json.load(f)
    with quiet():
        theirs_res = theirs.loadRes(copy.deepcopy(results))  # loadRes mutates the list's dicts
        ours_res = ours.loadRes(copy.deepcopy(results))
    _check_res(ours_res, theirs_res, data_dir)
    # The ground truth is unchanged by loadRes.
    assert_coco_equal(ours, py_coco(gt_path))


def _bbox_array(data_dir):
    with open(data_dir / "instances_val2014_fakebbox100_results.json") as f:
        res = json.load(f)
    return np.array([[r["image_id"], *r["bbox"], r["score"], r["category_id"]] for r in res], dtype=np.float64)


def test_load_res_numpy(data_dir):
    path = str(data_dir / "instances_val2014_100.json")
    ours, theirs = ours_coco(path), py_coco(path)
    arr = _bbox_array(data_dir)
    with quiet():
        theirs_res = theirs.loadRes(arr)
        ours_res = ours.loadRes(arr.copy())
    _check_res(ours_res, theirs_res, data_dir)
    # bbox and score stay np.float64 scalars; area and the box polygon too.
    a = theirs_res.anns[1]
    assert type(a["score"]) is np.float64 and type(a["area"]) is np.float64


def test_load_numpy_annotations(data_dir):
    path = str(data_dir / "instances_val2014_100.json")
    ours, theirs = ours_coco(path), py_coco(path)
    arr = _bbox_array(data_dir)
    with quiet():
        same_call(lambda: ours.loadNumpyAnnotations(arr), lambda: theirs.loadNumpyAnnotations(arr), "loadNumpyAnnotations")
        same_call(
            lambda: ours.loadNumpyAnnotations(arr[:0]), lambda: theirs.loadNumpyAnnotations(arr[:0]), "empty N x 7"
        )
        same_call(
            lambda: ours.loadNumpyAnnotations(arr[:, :6]),
            lambda: theirs.loadNumpyAnnotations(arr[:, :6]),
            "N x 6",
        )


def test_load_res_refusals_match(data_dir):
    # pycocotools: AssertionError for image ids not in the ground truth. (Its IndexError for
    # loadRes([]) is a documented difference: cocors gives a result set with no annotations.)
    path = str(data_dir / "instances_val2014_100.json")
    ours, theirs = ours_coco(path), py_coco(path)
    foreign = [{"image_id": -5, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]
    with quiet():
        same_call(lambda: ours.loadRes(copy.deepcopy(foreign)), lambda: theirs.loadRes(copy.deepcopy(foreign)), "foreign")
        with pytest.raises(IndexError):
            theirs.loadRes([])
        empty = ours.loadRes([])
    assert empty.getAnnIds() == [] and empty.getCatIds() == theirs.getCatIds()


# ----------------------------------------------------------------------------------------------
# Pickling and install_as_pycocotools


@pytest.mark.parametrize("name", ["instances_val2014_100.json", "lvis_val_100.json"])
def test_pickle_round_trip(name, data_dir):
    path = str(data_dir / name)
    theirs = py_coco(path)
    file_backed = ours_coco(path)
    assert_coco_equal(pickle.loads(pickle.dumps(file_backed)), theirs)
    with open(path) as f:
        dict_backed = ours_coco(json.load(f))
    assert_coco_equal(pickle.loads(pickle.dumps(dict_backed)), theirs)
    c = ours_coco(None)
    with open(path) as f:
        c.dataset = json.load(f)
    with quiet():
        c.createIndex()
    assert_coco_equal(pickle.loads(pickle.dumps(c)), theirs)
    # The unpickled object still answers queries.
    again = pickle.loads(pickle.dumps(file_backed))
    assert_strict(again.getAnnIds(iscrowd=None), theirs.getAnnIds(iscrowd=None))


def test_pickle_load_res(data_dir):
    path = str(data_dir / "instances_val2014_100.json")
    ours, theirs = ours_coco(path), py_coco(path)
    res = str(data_dir / "instances_val2014_fakesegm100_results.json")
    with quiet():
        ours_res, theirs_res = ours.loadRes(res), theirs.loadRes(res)
    assert_coco_equal(pickle.loads(pickle.dumps(ours_res)), theirs_res)


@pytest.mark.skipif(impl.self_check, reason="cocors only")
def test_install_as_pycocotools(data_dir, tmp_path):
    script = textwrap.dedent(
        f"""
        import cocors
        cocors.install_as_pycocotools()
        import pycocotools.coco
        import pycocotools.mask
        from pycocotools.coco import COCO
        from pycocotools import mask as mask_util
        assert COCO is cocors.COCO, COCO
        assert pycocotools.coco.COCO is cocors.COCO
        assert mask_util.encode is cocors.mask.encode
        assert pycocotools.mask.decode is cocors.mask.decode
        c = COCO({str(data_dir / "keypoints_crowd_gt.json")!r})
        assert isinstance(c, cocors.COCO)
        assert len(c.getAnnIds()) == 14
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_loaded_views_are_read_only(data_dir):
    ours = ours_coco(str(data_dir / "keypoints_crowd_gt.json"))
    if impl.self_check:
        pytest.skip("pycocotools' attributes are plain dicts")
    k = next(iter(ours.anns))
    with pytest.raises(TypeError):
        ours.anns[k] = {}
    with pytest.raises(TypeError):
        ours.imgs[k] = {}


def test_data_dir_has_what_the_tests_use(data_dir):
    for name in GT_FILES + [r for _, r in LOADRES_CASES] + ["panoptic_examples.json"]:
        assert (data_dir / name).exists(), name
    assert Path(data_dir / "README.md").read_text().count("keypoints_crowd_gt.json") >= 1
