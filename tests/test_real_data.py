"""Differential tests on real COCO, LVIS and panoptic files (tests/data): every RLE byte, area,
box and IoU equals pycocotools 2.0.11's."""

import json
from collections import defaultdict

import numpy as np
import pycocotools.mask as pm
import pytest

import cocors.mask as cm
from cocors.demo import ann_to_rle
from helpers import assert_same


def load(data_dir, name):
    with open(data_dir / name) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def val2014(data_dir):
    gt = load(data_dir, "instances_val2014_100.json")
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    return gt, sizes


def test_val2014_ann_to_rle_area_bbox_decode(val2014):
    gt, sizes = val2014
    assert len(gt["annotations"]) == 839
    ours, theirs = [], []
    for ann in gt["annotations"]:
        h, w = sizes[ann["image_id"]]
        a, b = ann_to_rle(cm, ann, h, w), ann_to_rle(pm, ann, h, w)
        assert_same(a, b, f"annotation {ann['id']}")
        ours.append(a)
        theirs.append(b)
    assert sum(1 for a in gt["annotations"] if a["iscrowd"]) == 9
    # pycocotools' area() of more than 255 RLEs raises OverflowError under numpy 2 (a throwaway
    # uint8 array in _mask.pyx): compare in chunks.
    want = np.concatenate([pm.area(theirs[i : i + 255]) for i in range(0, len(theirs), 255)])
    assert_same(cm.area(ours), want)
    assert_same(cm.toBbox(ours), pm.toBbox(theirs))
    for a, b in zip(ours, theirs):
        assert_same(cm.decode(a), pm.decode(b))
        assert_same(cm.area(a), pm.area(b))


def test_val2014_iou_matrices(val2014, data_dir):
    gt, sizes = val2014
    segm = load(data_dir, "instances_val2014_fakesegm100_results.json")
    bbox = load(data_dir, "instances_val2014_fakebbox100_results.json")
    gts = defaultdict(list)
    for ann in gt["annotations"]:
        gts[ann["image_id"]].append(ann)
    dts, dtb = defaultdict(list), defaultdict(list)
    for d in segm:
        dts[d["image_id"]].append(d["segmentation"])
    for d in bbox:
        dtb[d["image_id"]].append(d["bbox"])
    checked = 0
    for img, anns in gts.items():
        h, w = sizes[img]
        g_rles = [ann_to_rle(pm, a, h, w) for a in anns]
        crowd = [a["iscrowd"] for a in anns]
        assert_same(cm.iou(dts[img], g_rles, crowd), pm.iou(dts[img], g_rles, crowd))
        g_boxes = [a["bbox"] for a in anns]
        assert_same(cm.iou(dtb[img], g_boxes, crowd), pm.iou(dtb[img], g_boxes, crowd))
        checked += 1
    assert checked == len(gts)
    # One 734 x 839 call across images of different sizes: -1 wherever boxes overlap.
    all_gt = [ann_to_rle(pm, a, *sizes[a["image_id"]]) for a in gt["annotations"]]
    all_dt = [d["segmentation"] for d in segm]
    crowd = [a["iscrowd"] for a in gt["annotations"]]
    got = cm.iou(all_dt, all_gt, crowd)
    assert_same(got, pm.iou(all_dt, all_gt, crowd))
    assert (got == -1).any()


def test_lvis_polygons(data_dir):
    lvis = load(data_dir, "lvis_val_100.json")
    sizes = {im["id"]: (im["height"], im["width"]) for im in lvis["images"]}
    n = 0
    for ann in lvis["annotations"]:
        h, w = sizes[ann["image_id"]]
        polys = ann["segmentation"]
        assert_same(cm.frPyObjects(polys, h, w), pm.frPyObjects(polys, h, w))
        assert_same(ann_to_rle(cm, ann, h, w), ann_to_rle(pm, ann, h, w))
        n += 1
    assert n > 900


def test_panoptic_rle_strings(data_dir):
    pan = load(data_dir, "panoptic_coco_detection_format.json")
    rles = [a["segmentation"] for a in pan["annotations"]]
    assert len(rles) == 50 and all(isinstance(r["counts"], str) for r in rles)
    assert_same(cm.area(rles), pm.area(rles))
    assert_same(cm.toBbox(rles), pm.toBbox(rles))
    for size in {tuple(r["size"]) for r in rles}:
        same_size = [r for r in rles if tuple(r["size"]) == size]
        assert_same(cm.decode(same_size), pm.decode(same_size))
    crowd = [a["iscrowd"] for a in pan["annotations"]]
    assert_same(cm.iou(rles, rles, crowd), pm.iou(rles, rles, crowd))
    assert_same(cm.merge(rles), pm.merge(rles))
    assert_same(cm.merge(rles, intersect=1), pm.merge(rles, intersect=1))
    first = [r for r in rles if r["size"] == rles[0]["size"]]
    masks = pm.decode(first)
    assert_same(cm.encode(masks), pm.encode(masks))
    assert [r["counts"] for r in cm.encode(masks)] == [r["counts"].encode() for r in first]


def test_val2014_merges_of_many_masks(val2014, data_dir):
    # Many same-size masks merged at once take cocors' cover path (not the pairwise walk):
    # the 839 annotations drawn at one size (crowd ones as their boxes) and the fake segm
    # results of that size; unions and intersections of all, of prefixes and of each image's
    # masks equal pycocotools'.
    gt, _ = val2014
    h, w = 480, 640
    rles = []
    for ann in gt["annotations"]:
        if not ann["iscrowd"]:
            rles.append(pm.merge(pm.frPyObjects(ann["segmentation"], h, w)))
        else:
            rles.append(pm.frPyObjects(np.array([ann["bbox"]], float), h, w)[0])
    segm = load(data_dir, "instances_val2014_fakesegm100_results.json")
    same = [d["segmentation"] for d in segm if list(d["segmentation"]["size"]) == [h, w]]
    assert len(rles) == 839 and len(same) > 50
    groups = [rles, rles[:300], same, same + rles[:40]]
    by_image = defaultdict(list)
    for ann, rle in zip(gt["annotations"], rles):
        by_image[ann["image_id"]].append(rle)
    groups += [g for g in by_image.values() if len(g) >= 12]
    for group in groups:
        for intersect in (0, 1):
            assert_same(cm.merge(group, intersect=intersect), pm.merge(group, intersect=intersect))
    # Boxes covering nearly all of the mask: runs far longer than 255 pixels, overlapping.
    boxes = pm.frPyObjects(np.array([[i, i / 2, w - 2 * i, h - i] for i in range(100)], float), h, w)
    for intersect in (0, 1):
        assert_same(cm.merge(boxes, intersect=intersect), pm.merge(boxes, intersect=intersect))
