"""Bad input gets a clear cocors exception (a ValueError; wrong types also a TypeError) that
says what was wrong; never a crash, a hang or garbage. Where pycocotools crashes or returns
garbage, these are the documented differences (docs/differences.md)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cocors
import pycocotools.mask as pm

import cocors.mask as cm
from cocors import CocorsError, GeometryError, InputTypeError, RleError
from cocors.testing import strategies as cst

GOOD = {"size": [2, 3], "counts": b"06"}


def test_exception_tree():
    assert issubclass(CocorsError, ValueError)
    for cls in (RleError, GeometryError, InputTypeError):
        assert issubclass(cls, CocorsError)
    assert issubclass(InputTypeError, TypeError)


@given(cst.malformed_rles())
def test_malformed_rles_are_refused_by_decode_merge_iou(rle):
    with pytest.raises(CocorsError):
        cm.decode([rle])
    with pytest.raises(CocorsError):
        cm.merge([rle, rle])
    # iou walks runs only where boxes overlap: runs that do not cover the mask are refused
    # there (pycocotools would loop forever) and give pycocotools' 0 elsewhere.
    try:
        out = cm.iou([rle], [rle], [0])
    except CocorsError:
        return
    assert out.tolist() == [[0.0]]


def test_iou_of_non_covering_runs_without_overlap_is_zero():
    short = {"size": [2, 3], "counts": b"5"}  # no foreground, 5 of 6 pixels
    assert cm.iou([short], [GOOD], [0]).tolist() == [[0.0]]
    assert pm.iou([short], [GOOD], [0]).tolist() == [[0.0]]
    # The pair is named: the walk of gt 0 against dt 0 found the dt's runs short.
    with pytest.raises(RleError, match=r"gt\[0\]: dt\[0\]: .*sum to 5"):
        cm.iou([{"size": [2, 3], "counts": b"014"}], [{"size": [2, 3], "counts": b"015"}], [0])


def test_iou_errors_name_the_list():
    bad = {"size": [2, 3], "counts": b"0~"}
    with pytest.raises(RleError, match=r"^dt\[2\]: invalid byte 0x7e at offset 1"):
        cm.iou([GOOD, GOOD, bad], [GOOD], [0])
    with pytest.raises(RleError, match=r"^gt\[1\]: invalid byte 0x7e at offset 1"):
        cm.iou([GOOD], [GOOD, bad], [0, 0])


@given(cst.malformed_rles())
def test_malformed_rles_area_and_bbox_never_crash(rle):
    # Runs that do not cover the mask still have an area and a box (pycocotools computes them
    # too); everything else must be refused with a cocors error.
    for f in (cm.area, cm.toBbox):
        try:
            f([rle])
        except CocorsError:
            pass


@pytest.mark.parametrize(
    "counts, match",
    [
        (b"0p", "invalid byte 0x70 at offset 1"),
        (b"0\x00", "invalid byte 0x00 at offset 1"),
        (b"06P", "truncated"),
        (b"@", "not a run length"),
    ],
)
def test_bad_counts_string_says_where(counts, match):
    with pytest.raises(RleError, match=match):
        cm.area({"size": [2, 3], "counts": counts})


def test_decode_short_and_long_counts():
    # pycocotools returns uninitialised memory for short counts and raises for long ones.
    with pytest.raises(RleError, match="sum to 5 but its size 2x3 has 6 pixels"):
        cm.decode({"size": [2, 3], "counts": b"05"})
    with pytest.raises(RleError, match="sum to 7"):
        cm.decode({"size": [2, 3], "counts": b"07"})
    with pytest.raises(RleError, match="item 1"):
        cm.decode([GOOD, {"size": [2, 3], "counts": b"05"}])


def test_decode_empty_list():
    with pytest.raises(InputTypeError, match="empty list"):
        cm.decode([])


@pytest.mark.parametrize(
    "rle, exc",
    [
        ({"size": [-1, 3], "counts": b"0"}, CocorsError),
        ({"size": [1 << 33, 1], "counts": b"0"}, RleError),
        ({"size": [1 << 20, 1 << 20], "counts": b"0"}, RleError),
        ({"size": [2.0, 3], "counts": b"06"}, InputTypeError),
        ({"size": [2], "counts": b"06"}, InputTypeError),
        ({"size": [2, 3]}, InputTypeError),
        ({"counts": b"06"}, InputTypeError),
        ({"size": [2, 3], "counts": 6}, InputTypeError),
        ({"size": [2, 3], "counts": [6, -1]}, RleError),
        ({"size": [2, 3], "counts": [2**32]}, RleError),
        ({"size": [2, 3], "counts": [math.nan]}, RleError),
        ("not a dict", InputTypeError),
    ],
)
def test_bad_rle_dicts(rle, exc):
    for f in (cm.area, cm.toBbox, cm.decode):
        with pytest.raises(exc):
            f([rle])


def test_encode_bad_inputs():
    with pytest.raises(InputTypeError, match="uint8 or bool"):
        cm.encode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(InputTypeError, match="2-D or 3-D"):
        cm.encode(np.zeros(4, dtype=np.uint8))  # pycocotools returns None
    with pytest.raises(InputTypeError, match="numpy array"):
        cm.encode([[0, 1]])


def test_merge_bad_inputs():
    with pytest.raises(InputTypeError):
        cm.merge(GOOD)
    with pytest.raises(RleError, match="sum to 5"):
        cm.merge([GOOD, {"size": [2, 3], "counts": b"05"}])


def test_iou_boxes_output_array_is_checked():
    # The binding writes box IoUs into an array the facade made with np.empty; one of the
    # wrong shape or order is refused, never written past.
    dt, gt, crowd = np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(3, dtype=np.uint8)
    for out in (np.empty((3, 2), order="F"), np.empty((2, 3), order="C")):
        with pytest.raises(InputTypeError, match="Fortran-ordered 2 x 3"):
            cm._cocors.iou_boxes(dt, gt, crowd, out)
    boxes = np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]])
    out = np.full((2, 2), np.nan, order="F")
    cm._cocors.iou_boxes(boxes, boxes, np.zeros(2, dtype=np.uint8), out)
    assert out.tolist() == pm.iou(boxes, boxes, [0, 0]).tolist()


def test_iou_bad_inputs():
    with pytest.raises(InputTypeError, match="iscrowd has 2 flags but gt has 1"):
        cm.iou([GOOD], [GOOD], [0, 0])
    with pytest.raises(InputTypeError, match="same kind"):
        cm.iou([GOOD], [[0, 0, 1, 1]], [0])
    with pytest.raises(InputTypeError, match="N x 4"):
        cm.iou(np.zeros(4), np.zeros((1, 4)), [0])  # pycocotools: reshape bug
    with pytest.raises(InputTypeError, match="not a mix"):
        cm.iou([GOOD, [0, 0, 1, 1]], [GOOD], [0])
    with pytest.raises(InputTypeError, match="got tuple"):
        cm.iou((GOOD,), [GOOD], [0])
    with pytest.raises(InputTypeError, match="iscrowd"):
        cm.iou([GOOD], [GOOD], None)
    assert cm.iou([], [GOOD], [0]) == []
    assert cm.iou([GOOD], [], []) == []


@pytest.mark.parametrize(
    "poly, match",
    [
        ([[0, 0, math.nan, 1, 2, 2]], "item 0: coordinate NaN at position 2"),
        ([[0, 0, math.inf, 1, 2, 2]], "coordinate inf"),
        ([[0, 0, 1e12, 1, 2, 2]], "coordinate 1000000000000"),
    ],
)
def test_absurd_coordinates(poly, match):
    with pytest.raises(GeometryError, match=match):
        cm.frPoly(poly, 10, 10)
    with pytest.raises(GeometryError):
        cm.frPyObjects(poly, 10, 10)


def test_bad_polygons_and_boxes():
    with pytest.raises(InputTypeError, match="flat list"):
        cm.frPoly([[[0, 0], [1, 1], [2, 0]]], 10, 10)  # nested points
    with pytest.raises(InputTypeError, match="flat list"):
        cm.frPoly([["a", "b", "c", "d", "e", "f"]], 10, 10)
    with pytest.raises(InputTypeError, match="2 points"):
        cm.frPyObjects([[0, 0, 1, 1], [0, 0, 5, 0, 5, 5]], 10, 10)  # pycocotools: TypeError
    with pytest.raises(InputTypeError, match="not supported"):
        cm.frPyObjects((1, 2, 3, 4), 10, 10)  # pycocotools: Exception
    with pytest.raises(InputTypeError, match="N x 4"):
        cm.frBbox(np.zeros((2, 3)), 10, 10)
    with pytest.raises(GeometryError):
        cm.frBbox(np.array([[0, 0, math.nan, 1]]), 10, 10)
    with pytest.raises(InputTypeError, match="h must be an integer"):
        cm.frPoly([[0, 0, 1, 0, 1, 1]], 10.0, 10)
    with pytest.raises(InputTypeError, match="non-negative"):
        cm.frPoly([[0, 0, 1, 0, 1, 1]], -1, 10)
    with pytest.raises(RleError, match="too large"):
        cm.frPoly([[0, 0, 1, 0, 1, 1]], 1 << 20, 1 << 20)
    assert cm.frPyObjects([], 10, 10) == []  # pycocotools: IndexError


@given(st.binary(max_size=40))
def test_random_counts_bytes_never_crash(s):
    try:
        cm.area({"size": [3, 4], "counts": s})
        cm.toBbox({"size": [3, 4], "counts": s})
    except RleError:
        pass


def test_thread_count_validation():
    with pytest.raises(CocorsError, match="n must be >= 0"):
        cocors.set_num_threads(-1)


def test_long_lists_name_the_first_bad_item():
    # area and toBbox hand long lists to the core in blocks of 2,048: the index in the error
    # counts from the start of the whole list, and the first bad item (in list order) is named
    # whatever thread meets a bad one first; a bad dict is named the same way.
    # Strings long enough that a block is worth spreading over two threads.
    good = pm.encode(np.asfortranarray(np.random.default_rng(3).random((30, 30, 1)) < 0.5,
                                       dtype=np.uint8))[0]
    rles = [good] * 5000
    rles[3001] = {"size": [30, 30], "counts": b"0p"}
    rles[4500] = {"size": [30, 30], "counts": b"06P"}
    before = cocors.get_num_threads()
    for threads in (1, 2):
        cocors.set_num_threads(threads)
        try:
            for f in (cm.area, cm.toBbox):
                with pytest.raises(RleError, match="^item 3001: .*invalid byte 0x70"):
                    f(rles)
            bad = list(rles)
            bad[3001] = {"size": [30, 30]}
            with pytest.raises(InputTypeError, match="RLE #3001"):
                cm.area(bad)
        finally:
            cocors.set_num_threads(before)


def test_long_lists_equal_pycocotools_across_blocks():
    rng = np.random.default_rng(5)
    masks = np.asfortranarray(rng.random((9, 7, 4500)) < 0.4, dtype=np.uint8)
    rles = pm.encode(masks)
    want_area = np.concatenate([pm.area(rles[i : i + 255]) for i in range(0, len(rles), 255)])
    assert np.array_equal(cm.area(rles), want_area)
    assert cm.area(rles).dtype == np.uint32
    assert np.array_equal(cm.toBbox(rles), pm.toBbox(rles))
