"""Property tests: cocors.mask == pycocotools.mask 2.0.11 == cocors.testing.reference, on every
function and input form (random inputs from cocors.testing.strategies)."""

import numpy as np
import pycocotools.mask as pm
from hypothesis import assume, given
from hypothesis import strategies as st

import pytest

import cocors.mask as cm
from cocors import RleError
from cocors.testing import reference as ref
from cocors.testing import strategies as cst
from helpers import assert_same, compressed


@given(cst.binary_masks())
def test_encode_2d(m):
    want = pm.encode(m)
    assert_same(cm.encode(m), want)
    assert_same(ref.encode(m), want)
    assert_same(cm.encode(m.astype(bool)), want)
    assert_same(cm.encode(np.ascontiguousarray(m)), want)  # C order: accepted by cocors only


@given(cst.mask_stacks())
def test_encode_3d(stack):
    want = pm.encode(stack)
    assert_same(cm.encode(stack), want)
    assert_same(ref.encode(stack), want)


@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_encode_multivalued_bytes(h, w, data):
    # Any change of byte value starts a run, as in pycocotools.
    vals = data.draw(st.lists(st.integers(0, 255), min_size=h * w, max_size=h * w))
    m = np.array(vals, dtype=np.uint8).reshape((h, w), order="F")
    assert_same(cm.encode(m), pm.encode(m))
    assert_same(cm.encode(m), ref.encode(m))


@given(cst.rle_lists(min_size=1, form=None))
def test_decode(rles):
    want = ref.decode(rles)
    assert_same(cm.decode(rles), want)
    assert_same(cm.decode(rles[0]), ref.decode(rles[0]))
    assert_same(pm.decode([compressed(r) for r in rles]), want)
    assert_same(pm.decode(compressed(rles[0])), want[:, :, 0])


@given(st.lists(cst.rles(form="bytes", canonical=False), max_size=5))
def test_area_and_bbox(rles):
    assert_same(cm.area(rles), pm.area(rles))
    assert_same(cm.area(rles), ref.area(rles))
    assert_same(cm.toBbox(rles), pm.toBbox(rles))
    assert_same(cm.toBbox(rles), ref.toBbox(rles))
    for r in rles:
        assert_same(cm.area(r), pm.area(r))
        assert_same(cm.toBbox(r), pm.toBbox(r))


@st.composite
def arbitrary_runs(draw):
    """Counts that need not cover the mask (area and toBbox accept them, as pycocotools does)."""
    h, w = draw(cst.mask_sizes(10, allow_empty=False))
    counts = draw(st.lists(st.integers(0, 2 * h * w), max_size=8))
    return {"size": [h, w], "counts": ref.counts_to_string(counts)}


@given(st.lists(arbitrary_runs(), max_size=4))
def test_area_and_bbox_on_any_runs(rles):
    assert_same(cm.area(rles), pm.area(rles))
    assert_same(cm.toBbox(rles), pm.toBbox(rles))
    assert_same(cm.toBbox(rles), ref.toBbox(rles))


@st.composite
def merge_inputs(draw):
    size = draw(cst.mask_sizes(16))
    canonical = draw(st.booleans())
    n = draw(st.integers(0, 40 if canonical else 6))
    rles = [draw(cst.rles(size=size, form="bytes", canonical=canonical)) for _ in range(n)]
    if n > 1 and draw(st.integers(0, 9)) == 0:  # a size mismatch somewhere
        i = draw(st.integers(1, n - 1))
        rles[i] = draw(cst.rles(size=(size[0] + 1, size[1]), form="bytes"))
    return rles


@given(merge_inputs(), st.booleans())
def test_merge(rles, intersect):
    try:
        got = cm.merge(rles, intersect=intersect)
    except RleError:
        # Empty runs inside stop pycocotools' walk early (wrong result or an endless loop):
        # the reference agrees that there is no right answer; pycocotools is not called.
        with pytest.raises(ValueError, match="run walk stops"):
            ref.merge(rles, intersect)
        return
    assert_same(ref.merge(rles, intersect), got)
    if not pycocotools_merge_is_defined(rles, intersect):
        return
    assert_same(got, pm.merge(rles, intersect=int(intersect)))


def pycocotools_merge_is_defined(rles, intersect):
    """Whether pycocotools' rleMerge is safe to call: on RLEs with empty runs inside, its run
    buffer (h*w+1 entries) can overflow at some step, which has been seen to hang or crash the
    process, so only the reference judges those (cocors matches it run for run)."""
    for r in rles:
        runs = ref._runs(r)
        if any(c == 0 for c in runs[1:]):
            return False
    return True


@st.composite
def iou_rle_inputs(draw):
    size = draw(cst.mask_sizes(16))
    dt = draw(st.lists(cst.rles(size=size, form="bytes"), max_size=6))
    gt = draw(st.lists(cst.rles(size=size, form="bytes"), max_size=6))
    if gt and draw(st.booleans()):  # a gt of another size: -1 where the boxes overlap
        gt[0] = draw(cst.rles(size=(size[1], size[0] + 1), form="bytes"))
    crowd = draw(st.lists(st.integers(0, 1), min_size=len(gt), max_size=len(gt)))
    return dt, gt, crowd


@given(iou_rle_inputs())
def test_iou_rles(args):
    dt, gt, crowd = args
    want = pm.iou(dt, gt, crowd)
    assert_same(cm.iou(dt, gt, crowd), want)
    assert_same(ref.iou(dt, gt, crowd), want)


@given(st.data())
def test_iou_rles_with_empty_runs(data):
    size = data.draw(cst.mask_sizes(8))
    dt = data.draw(st.lists(cst.rles(size=size, form="bytes", canonical=False), max_size=4))
    gt = data.draw(st.lists(cst.rles(size=size, form="bytes", canonical=False), max_size=4))
    crowd = [0] * len(gt)
    try:
        got = cm.iou(dt, gt, crowd)
    except RleError:
        with pytest.raises(ValueError, match="run walk stops"):
            ref.iou(dt, gt, crowd)
        return
    assert_same(ref.iou(dt, gt, crowd), got)
    assert_same(pm.iou(dt, gt, crowd), got)


@given(cst.box_arrays(), cst.box_arrays(), st.data())
def test_iou_boxes(dt, gt, data):
    crowd = data.draw(st.lists(st.booleans(), min_size=len(gt), max_size=len(gt)))
    want = pm.iou(dt, gt, crowd)
    assert_same(cm.iou(dt, gt, crowd), want)
    assert_same(ref.iou(dt.tolist(), gt.tolist(), crowd), want)
    # Lists of boxes, and int arrays, go through the same path.
    assert_same(cm.iou(dt.tolist(), gt.tolist(), crowd), pm.iou(dt.tolist(), gt.tolist(), crowd))
    di, gi = dt.astype(np.int64), gt.astype(np.int64)
    assert_same(cm.iou(di, gi, crowd), pm.iou(di, gi, crowd))


@given(cst.mask_sizes(30), st.data())
def test_fr_poly(size, data):
    polys = data.draw(cst.polygon_lists(size))
    h, w = size
    want = pm.frPyObjects(polys, h, w)
    assert_same(cm.frPyObjects(polys, h, w), want)
    assert_same(cm.frPoly(polys, h, w), want)
    assert_same(ref.frPoly(polys, h, w), want)
    # annToRLE: the polygons of one annotation merged. (In a mask of zero width, pycocotools'
    # rasteriser lets points through that do not fit the mask; merging those is refused.)
    if h * w > 0:
        assert_same(cm.merge(cm.frPyObjects(polys, h, w)), pm.merge(want))


@given(cst.mask_sizes(30), st.data())
def test_fr_bbox(size, data):
    h, w = size
    bb = data.draw(cst.box_arrays(size, min_size=1))
    want = pm.frPyObjects(bb, h, w)
    assert_same(cm.frPyObjects(bb, h, w), want)
    assert_same(cm.frBbox(bb, h, w), want)
    assert_same(ref.frBbox(bb, h, w), want)
    # A list of boxes: pycocotools raises TypeError; cocors rasterises the boxes.
    assert_same(cm.frPyObjects(bb.tolist(), h, w), want)
    assert_same(cm.frPyObjects(bb[0].tolist(), h, w), want[0])


@given(st.lists(cst.rles(form="uncompressed", canonical=False), min_size=1, max_size=4))
def test_fr_uncompressed(rles):
    want = pm.frPyObjects(rles, 7, 9)  # h, w are ignored: each RLE keeps its size
    assert_same(cm.frPyObjects(rles, 7, 9), want)
    assert_same(cm.frUncompressedRLE(rles, 7, 9), want)
    assert_same(ref.frUncompressedRLE(rles, 7, 9), want)
    assert_same(cm.frPyObjects(rles[0], 7, 9), pm.frPyObjects(rles[0], 7, 9))


@given(st.lists(st.integers(0, 2**32 - 1), max_size=12))
def test_counts_string_round_trip(counts):
    s = cm._cocors.counts_to_string(counts)
    assert s == ref.counts_to_string(counts)
    assert cm._cocors.counts_from_string(s).tolist() == counts
    assert ref.counts_from_string(s) == counts
    # pycocotools' C decoder shifts a 32-bit int by up to 35 bits (undefined behaviour): it
    # misreads stored differences of -2^29 or less (runs of 2^29 pixels or more), e.g.
    # [0, 2^29 + 1, 0, 0] reads back as [0, 2^29 + 1, 0, 2^29]. cocors decodes them exactly;
    # compare with pycocotools below that size only.
    if sum(counts) < 2**32 and all(c < 2**29 for c in counts):
        rle = {"size": [1, sum(counts)], "counts": s}
        assert pm.frPyObjects({"size": [1, sum(counts)], "counts": counts}, 1, 1) == rle
        assume(len(counts) > 0)
        assert_same(cm.area(rle), pm.area(rle))


def test_pycocotools_misreads_huge_runs():
    # Documents the difference above with pycocotools itself.
    rle = {"size": [1, 2**29 + 1], "counts": cm._cocors.counts_to_string([0, 2**29 + 1, 0, 0])}
    assert pm.area(rle) == 2**30 + 1
    assert cm.area(rle) == 2**29 + 1
    assert cm._cocors.counts_from_string(pm.merge([rle])["counts"]).tolist() == [0, 2**29 + 1, 0, 2**29]
