"""Laws the Mask API must obey whatever the implementation: round trips, symmetry, bounds."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import cocors.mask as cm
from cocors.testing import reference as ref
from cocors.testing import strategies as cst


@given(cst.mask_stacks())
def test_decode_encode_round_trip(stack):
    rles = cm.encode(stack)
    assert len(rles) == stack.shape[2]
    if rles:
        out = cm.decode(rles)
        assert out.flags.f_contiguous and out.dtype == np.uint8
        assert np.array_equal(out, stack)


@given(cst.rle_lists(min_size=1, form="bytes"))
def test_encode_decode_round_trip(rles):
    assert cm.encode(cm.decode(rles)) == rles


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_string_codec_round_trip(counts):
    s = cm._cocors.counts_to_string(counts)
    assert set(s) <= set(range(ord("0"), ord("o") + 1))
    assert cm._cocors.counts_from_string(s).tolist() == counts
    assert cm._cocors.counts_from_string(s.decode()).tolist() == counts


@given(cst.rle_lists(min_size=1, max_size=5), cst.rle_lists(min_size=1, max_size=5))
def test_iou_laws(a, b):
    if a[0]["size"] != b[0]["size"]:
        b = a[::-1]  # the law is about masks of one size
    ab = cm.iou(a, b, [0] * len(b))
    ba = cm.iou(b, a, [0] * len(a))
    assert np.array_equal(ab, ba.T)  # symmetric without crowd
    assert ((ab >= 0) & (ab <= 1)).all()
    aa = cm.iou(a, a, [0] * len(a))
    nonempty = cm.area(a) > 0
    assert (np.diag(aa)[nonempty] == 1).all()


@given(cst.rle_lists(min_size=2, max_size=5))
def test_intersection_and_union_areas(rles):
    inter = cm.area(cm.merge(rles, intersect=1))
    union = cm.area(cm.merge(rles, intersect=0))
    areas = cm.area(rles)
    assert (inter <= areas).all() and (areas <= union).all()
    masks = cm.decode(rles).astype(bool)
    assert inter == masks.all(axis=2).sum() and union == masks.any(axis=2).sum()


@given(cst.binary_masks())
def test_bbox_encloses_mask_tightly(m):
    box = cm.toBbox(cm.encode(m))
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        # No foreground: a single run gives zeros (pycocotools' rule for fewer than 2 runs).
        assert box.tolist() == [0.0, 0.0, 0.0, 0.0]
        return
    assert box.tolist() == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


@given(cst.mask_sizes(20, allow_empty=False), st.data())
def test_area_equals_decoded_pixels(size, data):
    polys = data.draw(cst.polygon_lists(size))
    rle = cm.merge(cm.frPoly(polys, *size))
    assert cm.area(rle) == cm.decode(rle).sum()
    assert ref.area(rle) == cm.area(rle)
