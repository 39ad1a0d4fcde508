"""cocors.COCO against pycocotools.coco.COCO on generated COCO documents, written as JSON text.

The documents are small (at most a dozen records of each kind) but written the way real files
and odd writers write them: keys in any order inside records, any whitespace, escapes in strings
and keys (``"\\u0069d"`` is the key ``id``), surrogate pairs, unknown fields and top-level keys,
every number form (``1e2``, ``-0.0``, ``-0``, ``1E-3``, ``1e400``, ``NaN``, ``Infinity``, big
ints), optional fields missing, empty arrays, duplicate keys inside an object (Python keeps the
last value at the first position) and the occasional duplicate id.

- Generated documents must load exactly as in pycocotools (every attribute, strictly typed) and
  answer getAnnIds/getImgIds/getCatIds/loadX with random filters exactly alike.
- Mangled documents (truncated, a byte inserted, deleted or replaced, a field of the wrong type,
  a record that is not an object, a BOM, trailing data...) must load equal to pycocotools' result
  or raise a cocors error; never another exception. A document that json.load accepts and that is
  plainly valid (coco_helpers.schema_problems) must load; one pycocotools cannot load must be
  refused.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pycocotools.mask as pm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coco_helpers import (
    I64_MAX,
    I64_MIN,
    assert_coco_equal,
    check_ann_masks,
    check_image_extras,
    load_impl,
    py_coco,
    quiet,
    same_call,
    schema_problems,
)

impl = load_impl()

# ----------------------------------------------------------------------------------------------
# A JSON syntax tree, so that the text can be written in any style: ("obj", [(key, node), ...])
# (duplicate keys allowed), ("arr", [node, ...]), ("num", text), ("str", text), ("lit", text).


def num(text: str) -> tuple:
    return ("num", text)


def s(text: str) -> tuple:
    return ("str", text)


def lit(text: str) -> tuple:
    return ("lit", text)


def arr(items: List[tuple]) -> tuple:
    return ("arr", list(items))


def obj(pairs: List[Tuple[str, tuple]]) -> tuple:
    return ("obj", list(pairs))


_SHORT = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}


def _hex4(v: int, rnd: random.Random) -> str:
    h = f"{v:04x}"
    return "\\u" + (h.upper() if rnd.random() < 0.5 else h)


def dump_str(text: str, rnd: random.Random) -> str:
    out = ['"']
    for ch in text:
        o = ord(ch)
        if 0xD800 <= o <= 0xDFFF:  # an unpaired surrogate can only be written escaped
            out.append(_hex4(o, rnd))
        elif o > 0xFFFF and rnd.random() < 0.4:
            o -= 0x10000
            out.append(_hex4(0xD800 + (o >> 10), rnd) + _hex4(0xDC00 + (o & 0x3FF), rnd))
        elif ch in _SHORT or o < 0x20:
            out.append(_SHORT[ch] if ch in _SHORT and rnd.random() < 0.7 else _hex4(o, rnd))
        elif ch == "/" and rnd.random() < 0.5:
            out.append("\\/")
        elif rnd.random() < 0.15 and o <= 0xFFFF:
            out.append(_hex4(o, rnd))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _ws(rnd: random.Random) -> str:
    if rnd.random() < 0.6:
        return ""
    return "".join(rnd.choice(" \t\n\r") for _ in range(rnd.randint(1, 3)))


def dump(node: tuple, rnd: random.Random) -> str:
    kind, v = node
    if kind in ("num", "lit"):
        return v
    if kind == "str":
        return dump_str(v, rnd)
    if kind == "arr":
        if not v:
            return "[" + _ws(rnd) + "]"
        return "[" + ",".join(_ws(rnd) + dump(x, rnd) + _ws(rnd) for x in v) + "]"
    if not v:
        return "{" + _ws(rnd) + "}"
    return (
        "{"
        + ",".join(_ws(rnd) + dump_str(k, rnd) + _ws(rnd) + ":" + _ws(rnd) + dump(x, rnd) + _ws(rnd) for k, x in v)
        + "}"
    )


# ----------------------------------------------------------------------------------------------
# Strategies

# Ids: small ones (collisions, ordering) and edge values (int64 bounds, hash(-1) == hash(-2),
# hash(2**61 - 1) == hash(0)).
EDGE_IDS = [0, -1, -2, 2**61 - 1, 2**61, 2**62 + 5, I64_MAX, I64_MIN, 10**12 + 39, 4294967296]
ids_st = st.one_of(st.integers(-3, 60), st.integers(-3, 60), st.sampled_from(EDGE_IDS))

# Number texts for numeric fields: every form Python's json reads as an int or a float.
SPECIAL_NUMS = [
    "1e2", "-0.0", "1.0", "1E-3", "0", "-0", "1E+2", "0e0", "-0E-0", "100e-2", "1.5e300",
    "1e400", "-1e400", "5e-324", "2.4703282292062327e-324", "2.2250738585072014e-308",
    "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
    "0.1000000000000000055511151231257827021181583404541015625", "9007199254740993",
    "9007199254740993.0", "123456789012345678901234567890.5", "1e-05", "32.0e0", "1024",
    "NaN", "Infinity", "-Infinity",
]  # fmt: skip
BIG_INTS = ["123456789012345678901234567890", "-9223372036854775809", "18446744073709551616", str(2**63)]


def _float_texts(f: float) -> List[str]:
    out = [repr(f), "%.17g" % f, "%e" % f, "%E" % f]
    if f.is_integer() and abs(f) < 1e15:
        out += ["%d.0" % f, "%de0" % f]
    return out


@st.composite
def number_nodes(draw, lo: float = -1e4, hi: float = 1e6) -> tuple:
    kind = draw(st.integers(0, 5))
    if kind <= 1:
        v = draw(st.integers(int(lo), int(hi)))
        return num("-0" if v == 0 and draw(st.booleans()) else str(v))
    if kind <= 3:
        f = draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
        return num(draw(st.sampled_from(_float_texts(f))))
    if kind == 4:
        return num(draw(st.sampled_from(SPECIAL_NUMS[:-3])))
    t = draw(st.sampled_from(SPECIAL_NUMS))
    return lit(t) if t in ("NaN", "Infinity", "-Infinity") else num(t)


def int_node(v: int, rnd: Optional[random.Random] = None) -> tuple:
    if v == 0 and rnd is not None and rnd.random() < 0.2:
        return num("-0")
    return num(str(v))


NAMES = ["dog", "hot dog", "person", "car", "carrot", "", "é", "😀", 'a"b\\c/', "日本語", "\u2028", "\x00\x1f\x7f"]
text_st = st.one_of(
    st.sampled_from(NAMES),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
)
RESERVED = {
    "id", "image_id", "category_id", "iscrowd", "area", "bbox", "segmentation", "height", "width",
    "name", "supercategory", "keypoints", "num_keypoints", "images", "annotations", "categories",
}  # fmt: skip
extra_key_st = st.one_of(
    st.sampled_from(["extra", "é", "😀key", "", "Id", "ID", "id ", "file_name", "caption", "score", "\\", '"']),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=5),
).filter(lambda k: k not in RESERVED)

leaf_st = st.one_of(
    st.sampled_from([lit("null"), lit("true"), lit("false")]),
    number_nodes(-1e9, 1e9),
    st.sampled_from(BIG_INTS).map(num),
    text_st.map(s),
)
json_st = st.recursive(
    leaf_st,
    lambda ch: st.one_of(
        st.lists(ch, max_size=3).map(arr),
        st.lists(st.tuples(extra_key_st, ch), max_size=3).map(obj),
    ),
    max_leaves=6,
)


@dataclass
class Doc:
    """A generated document: its syntax tree, the seed of its writing style, and the ids and
    names it uses (for drawing filters)."""

    ast: tuple
    seed: int
    img_ids: List[int] = field(default_factory=list)
    ann_ids: List[int] = field(default_factory=list)
    cat_ids: List[int] = field(default_factory=list)
    names: List[str] = field(default_factory=list)
    sups: List[str] = field(default_factory=list)

    def text(self, ast: Optional[tuple] = None) -> str:
        rnd = random.Random(self.seed)
        return _ws(rnd) + dump(self.ast if ast is None else ast, rnd) + _ws(rnd)

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"Doc(text={self.text()!r})"


def _ids(draw, n: int) -> List[int]:
    ids = draw(st.lists(ids_st, min_size=n, max_size=n, unique=True))
    if ids and draw(st.integers(0, 9)) == 0:  # occasionally a duplicate id
        ids.insert(draw(st.integers(0, len(ids))), ids[draw(st.integers(0, len(ids) - 1))])
    return ids


def _record(draw, rnd: random.Random, fields: List[Tuple[str, tuple]]) -> tuple:
    pairs = list(fields) + draw(st.lists(st.tuples(extra_key_st, json_st), max_size=2))
    rnd.shuffle(pairs)
    if pairs and draw(st.integers(0, 14)) == 0:
        # A duplicate key: Python's json keeps the last value at the first key's position.
        k = rnd.randrange(len(pairs))
        pairs.insert(rnd.randint(0, k), (pairs[k][0], draw(json_st)))
    return obj(pairs)


def _mask_counts(mask: np.ndarray) -> List[int]:
    flat = mask.flatten(order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v == cur:
            run += 1
        else:
            counts.append(run)
            cur, run = v, 1
    counts.append(run)
    return counts


def _segmentation(draw, rnd: random.Random, h: int, w: int) -> tuple:
    kind = draw(st.sampled_from(["poly", "poly", "empty", "rle", "crle"]))
    if kind == "empty":
        return arr([])
    if kind == "poly":
        polys = []
        for _ in range(draw(st.integers(1, 2))):
            n = draw(st.integers(3, 6))
            pts = [rnd.uniform(-1, w + 1) if i % 2 == 0 else rnd.uniform(-1, h + 1) for i in range(2 * n)]
            polys.append(arr([num(rnd.choice(_float_texts(round(p, rnd.randint(0, 3))))) for p in pts]))
        return arr(polys)
    if draw(st.integers(0, 5)) == 0:  # an RLE of another size than its image
        h, w = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    mask = (np.array([rnd.random() for _ in range(h * w)]).reshape(h, w) < rnd.random()).astype(np.uint8)
    size = arr([int_node(h), int_node(w)])
    if kind == "rle":
        counts = arr([int_node(c) for c in _mask_counts(mask)])
    else:
        counts = s(pm.encode(np.asfortranarray(mask))["counts"].decode("ascii"))
    pairs = [("counts", counts), ("size", size)]
    rnd.shuffle(pairs)
    return obj(pairs)


@st.composite
def coco_documents(draw) -> Doc:
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed ^ 0x5EED)
    doc = Doc(ast=obj([]), seed=seed)
    top: List[Tuple[str, tuple]] = []

    with_images = draw(st.integers(0, 6)) > 0
    with_cats = draw(st.integers(0, 5)) > 0
    with_anns = draw(st.integers(0, 6)) > 0

    sizes: Dict[int, Tuple[int, int]] = {}
    if with_images:
        doc.img_ids = _ids(draw, draw(st.integers(0, 6)))
        recs = []
        for i in doc.img_ids:
            h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
            sizes[i] = (h, w)
            fields = [("id", int_node(i, rnd)), ("height", int_node(h)), ("width", int_node(w))]
            if draw(st.booleans()):
                fields.append(("file_name", s(draw(text_st) + ".jpg")))
            recs.append(_record(draw, rnd, fields))
        top.append(("images", arr(recs)))

    if with_cats:
        doc.cat_ids = _ids(draw, draw(st.integers(0, 5)))
        recs = []
        for i in doc.cat_ids:
            name = draw(text_st)
            doc.names.append(name)
            fields = [("id", int_node(i, rnd)), ("name", s(name))]
            if draw(st.integers(0, 4)) > 0:
                sup = draw(st.sampled_from(["animal", "food", "", "é", "dog"]))
                doc.sups.append(sup)
                fields.append(("supercategory", s(sup)))
            recs.append(_record(draw, rnd, fields))
        top.append(("categories", arr(recs)))

    if with_anns:
        doc.ann_ids = _ids(draw, draw(st.integers(0, 12)))
        recs = []
        no_cat_ids = not with_cats and draw(st.booleans())  # a captions-like file
        for i in doc.ann_ids:
            image_id = draw(st.sampled_from(doc.img_ids)) if doc.img_ids and draw(st.integers(0, 7)) else draw(ids_st)
            h, w = sizes.get(image_id, (draw(st.integers(1, 6)), draw(st.integers(1, 6))))
            fields = [("id", int_node(i, rnd)), ("image_id", int_node(image_id, rnd))]
            if not no_cat_ids:
                cat = draw(st.sampled_from(doc.cat_ids)) if doc.cat_ids and draw(st.integers(0, 7)) else draw(ids_st)
                fields.append(("category_id", int_node(cat, rnd)))
            if draw(st.integers(0, 4)):
                fields.append(("iscrowd", int_node(draw(st.sampled_from([0, 0, 1])), rnd)))
            if draw(st.integers(0, 5)):
                fields.append(("area", draw(number_nodes(0, 2000))))
            if draw(st.integers(0, 5)):
                fields.append(("bbox", arr([draw(number_nodes(-10, 100)) for _ in range(4)])))
            if draw(st.integers(0, 4)):
                fields.append(("segmentation", _segmentation(draw, rnd, h, w)))
            if draw(st.integers(0, 5)) == 0:
                k = draw(st.integers(0, 3))
                fields.append(("keypoints", arr([draw(number_nodes(0, 50)) for _ in range(3 * k)])))
                fields.append(("num_keypoints", int_node(k)))
            if no_cat_ids:
                fields.append(("caption", s(draw(text_st))))
            recs.append(_record(draw, rnd, fields))
        top.append(("annotations", arr(recs)))

    if draw(st.booleans()):
        info = draw(st.lists(st.tuples(extra_key_st, json_st), max_size=4))
        top.append(("info", obj(info) if draw(st.integers(0, 9)) else draw(json_st)))
    if draw(st.integers(0, 2)) == 0:
        top.append(("licenses", arr([draw(json_st) for _ in range(draw(st.integers(0, 2)))])))
    top += draw(st.lists(st.tuples(extra_key_st, json_st), max_size=2))
    rnd.shuffle(top)
    if top and draw(st.integers(0, 14)) == 0:
        k = rnd.randrange(len(top))
        top.insert(rnd.randint(0, k), (top[k][0], draw(json_st)))
    doc.ast = obj(top)
    return doc


# ----------------------------------------------------------------------------------------------
# Filters


def _absent(pool: List[int]) -> int:
    return max([p for p in pool if p < I64_MAX - 1000] + [0]) + 977


@st.composite
def id_filters(draw, pool: List[int]) -> Any:
    choices = pool + [_absent(pool)]
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return []
    if kind == 1:
        return draw(st.sampled_from(choices))  # a bare int
    if kind == 2:
        return np.int64(draw(st.sampled_from(choices)))
    ids = draw(st.lists(st.sampled_from(choices), max_size=6))
    if kind == 3:
        return tuple(ids)
    if kind == 4:
        return np.array(ids, dtype=np.int64)
    return ids


@st.composite
def area_filters(draw, areas: List[Any]) -> Any:
    pool = [a for a in areas if isinstance(a, (int, float))] + [0, 1e10, float("inf"), float("-inf"), float("nan"), 32**2]
    # (A one-element areaRng is left to test_coco_real.py: which of IndexError and KeyError
    # pycocotools raises then depends on the order of the annotations.)
    n = draw(st.sampled_from([0, 0, 2, 2, 2, 3]))
    return [draw(st.sampled_from(pool)) for _ in range(n)]


@st.composite
def name_filters(draw, names: List[str]) -> Any:
    pool = names + ["no such name", "hot dog"]
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return []
    if kind == 1:
        return draw(st.sampled_from(pool))  # a str: substring matching in pycocotools
    return draw(st.lists(st.sampled_from(pool), max_size=3))


def check_queries(ours: Any, theirs: Any, doc: Doc, data: Any) -> None:
    """Random getAnnIds/getImgIds/getCatIds/loadX calls agree (results or exception types)."""
    areas = [a.get("area") for a in theirs.dataset.get("annotations", []) if isinstance(a, dict)]
    img_pool = doc.img_ids + [a.get("image_id") for a in theirs.anns.values() if type(a.get("image_id")) is int]
    cat_pool = doc.cat_ids + [a.get("category_id") for a in theirs.anns.values() if type(a.get("category_id")) is int]
    for _ in range(4):
        imgs = data.draw(id_filters(img_pool), label="imgIds")
        cats = data.draw(id_filters(cat_pool), label="catIds")
        area = data.draw(area_filters(areas), label="areaRng")
        crowd = data.draw(st.sampled_from([None, None, False, True, 0, 1, 2]), label="iscrowd")
        same_call(
            lambda: ours.getAnnIds(imgIds=imgs, catIds=cats, areaRng=area, iscrowd=crowd),
            lambda: theirs.getAnnIds(imgIds=imgs, catIds=cats, areaRng=area, iscrowd=crowd),
            f"getAnnIds({imgs!r}, {cats!r}, {area!r}, {crowd!r})",
        )
    for _ in range(3):
        nms = data.draw(name_filters(doc.names), label="catNms")
        sups = data.draw(name_filters(doc.sups), label="supNms")
        cats = data.draw(id_filters(cat_pool), label="catIds")
        same_call(
            lambda: ours.getCatIds(catNms=nms, supNms=sups, catIds=cats),
            lambda: theirs.getCatIds(catNms=nms, supNms=sups, catIds=cats),
            f"getCatIds({nms!r}, {sups!r}, {cats!r})",
        )
    for name, pool in (("Anns", doc.ann_ids), ("Imgs", doc.img_ids), ("Cats", doc.cat_ids)):
        arg = data.draw(id_filters(pool), label=f"load{name}")
        same_call(lambda: getattr(ours, "load" + name)(arg), lambda: getattr(theirs, "load" + name)(arg), f"load{name}({arg!r})")
    # getImgIds last: pycocotools' catToImgs gains a key for each unknown category it looks up.
    for _ in range(3):
        imgs = data.draw(id_filters(img_pool), label="getImgIds imgIds")
        cats = data.draw(id_filters(cat_pool), label="getImgIds catIds")
        same_call(
            lambda: ours.getImgIds(imgIds=imgs, catIds=cats),
            lambda: theirs.getImgIds(imgIds=imgs, catIds=cats),
            f"getImgIds({imgs!r}, {cats!r})",
        )


def _has_duplicate_ids(dataset: Dict[str, Any]) -> bool:
    for kind in ("images", "annotations", "categories"):
        ids = [r["id"] for r in dataset.get(kind, [])]
        if len(set(ids)) != len(ids):
            return True
    return False


def _write(directory: str, data: bytes) -> str:
    path = os.path.join(directory, "doc.json")
    with open(path, "wb") as f:
        f.write(data)
    return path


# ----------------------------------------------------------------------------------------------
# Property 1: generated documents load exactly as in pycocotools


@given(doc=coco_documents(), data=st.data())
def test_generated_documents_match_pycocotools(doc: Doc, data: Any) -> None:
    text = doc.text()
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, text.encode("utf-8"))
        theirs = py_coco(path)
        assert not schema_problems(theirs.dataset), schema_problems(theirs.dataset)  # the generator's promise
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with quiet():
                ours = impl.COCO(path)
        if _has_duplicate_ids(theirs.dataset):
            assert caught, "duplicate ids gave no warning"
        assert_coco_equal(ours, theirs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with quiet():
                from_dict = impl.COCO(json.loads(text))
        assert_coco_equal(from_dict, py_coco(json.loads(text)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_ann_masks(ours, theirs, theirs.dataset.get("annotations", []))
            check_image_extras(ours, theirs, list(theirs.imgs))
            check_queries(ours, theirs, doc, data)


# ----------------------------------------------------------------------------------------------
# Property 2: mangled documents load equal or raise a cocors error

WRONG_VALUES = [
    s("1"), s(""), num("1.0"), num("1.5"), num("2"), num("-1"), lit("true"), lit("false"), lit("null"),
    lit("NaN"), lit("Infinity"), num("9223372036854775808"), num("-9223372036854775809"), num("1e400"),
    arr([num("1"), num("2"), num("3")]), arr([s("1"), s("2"), s("3"), s("4")]),
    arr([num("1"), num("2"), num("3"), num("4"), num("5")]), arr([]), obj([]),
    arr([arr([num("1"), num("2")])]), arr([arr([num("1"), num("2"), num("3"), num("4"), num("5"), num("6"), num("7")])]),
    arr([arr([num("1"), s("x"), num("3"), num("4"), num("5"), num("6")])]),
    obj([("counts", num("5")), ("size", arr([num("1"), num("2")]))]),
    obj([("counts", s("05")), ("size", arr([num("1")]))]),
    obj([("counts", arr([num("-1"), num("2")])), ("size", arr([num("1"), num("1")]))]),
    obj([("size", arr([num("2"), num("2")]))]),
    s("\ud800"), s("a\udc00b"),
]  # fmt: skip
FIELDS = {
    "images": ["id", "height", "width", "file_name"],
    "annotations": ["id", "image_id", "category_id", "iscrowd", "area", "bbox", "segmentation", "keypoints", "num_keypoints"],
    "categories": ["id", "name", "supercategory"],
}
NOISE_BYTES = [
    b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"0", b"1", b"9", b"-", b"+", b".", b"e", b"E",
    b" ", b"\n", b"\x0c", b"\x00", b"\x7f", b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"n", b"t", b"N",
    b"I", b"u", b"\\u", b"\\ud800", b"/", b"x", b"\xef\xbb\xbf",
]  # fmt: skip


@st.composite
def mangled(draw) -> Tuple[Doc, bytes, str]:
    """A generated document with one fault: in its syntax tree (a field of the wrong type or
    missing, a record or array replaced) or in its bytes (truncated, a byte inserted, deleted,
    replaced; a BOM; trailing data). Returns (doc, bytes, what was done)."""
    doc = draw(coco_documents())
    ast = copy.deepcopy(doc.ast)
    top = ast[1]
    kind = draw(st.integers(0, 9))
    what = ""
    if kind <= 3:
        # In the tree: pick a record (or the whole array) and damage it.
        arrays = [(i, k) for i, (k, v) in enumerate(top) if k in FIELDS and v[0] == "arr"]
        if arrays:
            pos, key = draw(st.sampled_from(arrays))
            recs = top[pos][1][1]
            action = draw(st.integers(0, 9))
            if recs and action <= 6:
                r = draw(st.integers(0, len(recs) - 1))
                pairs = recs[r][1] if recs[r][0] == "obj" else []
                fname = draw(st.sampled_from(FIELDS[key]))
                if action <= 3:
                    value = draw(st.sampled_from(WRONG_VALUES))
                    for j, (k, _) in enumerate(pairs):
                        if k == fname:
                            pairs[j] = (k, value)
                    if fname not in [k for k, _ in pairs]:
                        pairs.append((fname, value))
                    what = f"{key}[{r}].{fname} = {value}"
                elif action <= 5:
                    pairs[:] = [(k, v) for k, v in pairs if k != fname]
                    what = f"del {key}[{r}].{fname}"
                else:
                    recs[r] = draw(st.sampled_from([num("1"), arr([]), s("x"), lit("null")]))
                    what = f"{key}[{r}] = {recs[r]}"
            else:
                top[pos] = (key, draw(st.sampled_from([obj([]), lit("null"), s("x"), num("5"), arr([arr([])])])))
                what = f"{key} = {top[pos][1]}"
        data = doc.text(ast).encode("utf-8")
    else:
        data = doc.text().encode("utf-8")
        p = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == 4:
            data, what = data[:p], f"truncated at {p}"
        elif kind == 5:
            b = draw(st.sampled_from(NOISE_BYTES))
            data, what = data[:p] + b + data[p:], f"inserted {b!r} at {p}"
        elif kind == 6:
            data, what = data[:p] + data[p + 1 :], f"deleted byte {p}"
        elif kind == 7:
            b = draw(st.sampled_from(NOISE_BYTES))
            data, what = data[:p] + b + data[p + 1 :], f"replaced byte {p} with {b!r}"
        elif kind == 8:
            extra = draw(st.sampled_from([b"\xef\xbb\xbf", b"", b" ", b"\x0c", b"\n\t "]))
            data, what = extra + data, f"prefixed {extra!r}"
        else:
            extra = draw(st.sampled_from([b"x", b"{}", b",", b" \n", b"\x00", b"]", b"}", b"// c"]))
            data, what = data + extra, f"suffixed {extra!r}"
    return doc, data, what


def check_outcome(data: bytes) -> None:
    """The mangled-document contract for one file's bytes."""
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, data)
        try:
            theirs = py_coco(path)
        except Exception:  # noqa: BLE001 - pycocotools refuses it: so must cocors
            theirs = None
        problems = schema_problems(theirs.dataset) if theirs is not None else ["pycocotools cannot load it"]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with quiet():
                    ours = impl.COCO(path)
        except impl.CocorsError as e:
            assert problems, f"refused a document pycocotools loads and that is valid: {type(e).__name__}: {e}"
            assert str(e), "an error without a message"
            return
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"raised {type(e).__name__}: {e} (not a cocors error)") from e
        assert theirs is not None, "loaded a document that pycocotools cannot load"
        assert_coco_equal(ours, theirs)
        for call in ("getAnnIds", "getImgIds", "getCatIds"):
            same_call(getattr(ours, call), getattr(theirs, call), f"{call}()")


@given(case=mangled())
def test_mangled_documents_load_equal_or_raise_cocors_error(case: Tuple[Doc, bytes, str]) -> None:
    _doc, data, _what = case
    check_outcome(data)


# ----------------------------------------------------------------------------------------------
# Odd JSON that Python's json reads one way or refuses: each is held to the same contract.

_IMG = '{"id": 1, "height": 4, "width": 5}'
_CAT = '{"id": 3, "name": "dog"}'


def _doc(ann: str, extra: str = "") -> str:
    return '{"images": [%s], "categories": [%s], "annotations": [%s]%s}' % (_IMG, _CAT, ann, extra)


_ANN = '{"id": 7, "image_id": 1, "category_id": 3, "iscrowd": 0, "area": %s, "bbox": [%s, 0, 1, 2]}'

ODD_VALID = {
    "nan area": _doc(_ANN % ("NaN", "1")),
    "infinity bbox": _doc(_ANN % ("2", "Infinity")),
    "-infinity area": _doc(_ANN % ("-Infinity", "-0.0")),
    "1e400 area": _doc(_ANN % ("1e400", "1E-3")),
    "int area, -0": _doc(_ANN % ("12", "-0")),
    "big float": _doc(_ANN % ("1.7976931348623157e308", "5e-324")),
    "duplicate key in a record": _doc('{"id": "x", "image_id": 1, "category_id": 3, "id": 9, "area": 1}'),
    "duplicate top-level key": '{"annotations": 5, "images": [%s], "annotations": [], "categories": []}' % _IMG,
    "escaped keys": _doc('{"\\u0069d": 7, "image\\u005fid": 1, "category_id": 3, "\\u0069\\u0064": 8}'),
    "surrogate pair and escapes in a name": '{"categories": [{"id": 1, "name": "\\ud83d\\ude00 \\"q\\" \\/ \\u00e9 é 😀"}]}',
    "big int in an extra field": _doc('{"id": 7, "image_id": 1, "category_id": 3, "x": 123456789012345678901234567890}'),
    "nested extras": _doc('{"id": 7, "image_id": 1, "category_id": 3, "x": {"a": [1, {"b": null}], "a": true}}'),
    "missing optional fields": _doc('{"id": 7, "image_id": 1, "category_id": 3}'),
    "empty arrays": '{"images": [], "annotations": [], "categories": []}',
    "empty object": "{}",
    "only info": '{"info": {"year": 2017, "x": [1.0, -0, 1e2]}}',
    "whitespace everywhere": ' \r\n\t{ "images" :\t[ ] ,"annotations"\n:[]\r}\n ',
    "ids at the int64 bounds": _doc('{"id": 9223372036854775807, "image_id": 1, "category_id": 3}, '
                                    '{"id": -9223372036854775808, "image_id": 1, "category_id": 3}'),
    "hash collision ids": _doc('{"id": -1, "image_id": 1, "category_id": 3}, {"id": -2, "image_id": 1, "category_id": 3}'),
    "no categories, no category_id": '{"images": [%s], "annotations": [{"id": 1, "image_id": 1, "caption": "x"}]}' % _IMG,
    "annotation of an unknown image": _doc('{"id": 7, "image_id": 99, "category_id": 3}'),
}  # fmt: skip

ODD_REFUSED = {
    "empty file": "",
    "whitespace only": " \n",
    "BOM": "\ufeff{}",
    "top level array": "[]",
    "top level null": "null",
    "trailing comma": '{"images": [1, 2,]}',
    "trailing data": "{} {}",
    "form feed whitespace": "{\f}",
    "leading zero": _doc(_ANN % ("01", "1")),
    "plus sign": _doc(_ANN % ("+1", "1")),
    "bare dot": _doc(_ANN % (".5", "1")),
    "dot without digits": _doc(_ANN % ("1.", "1")),
    "lowercase nan": _doc(_ANN % ("nan", "1")),
    "-NaN": _doc(_ANN % ("-NaN", "1")),
    "+Infinity": _doc(_ANN % ("+Infinity", "1")),
    "bad escape": '{"info": "\\x"}',
    "short unicode escape": '{"info": "\\u12"}',
    "raw control character": '{"info": "a\tb"}',
    "unterminated string": '{"info": "abc}',
    "single quotes": "{'images': []}",
    "comment": "{} // x",
    "missing annotation id": _doc('{"image_id": 1, "category_id": 3}'),
    "missing image_id": _doc('{"id": 7, "category_id": 3}'),
    "missing category_id with categories": _doc('{"id": 7, "image_id": 1}'),
    "missing image id": '{"images": [{"height": 1}]}',
    "record not an object": _doc("5"),
    "images null": '{"images": null}',
    "unhashable id": _doc('{"id": [1], "image_id": 1, "category_id": 3}'),
}  # fmt: skip

def _anns(text: str) -> str:
    """The document with an empty annotations array first (so that getAnnIds() works)."""
    return '{"annotations": [], ' + text[1:]


ODD_EITHER = {  # pycocotools loads these; cocors may refuse them (schema) or load them equal
    "string id": _doc('{"id": "7", "image_id": 1, "category_id": 3}'),
    "float id": _doc('{"id": 7.0, "image_id": 1, "category_id": 3}'),
    "bool id": _doc('{"id": true, "image_id": 1, "category_id": 3}'),
    "id beyond int64": _doc('{"id": 9223372036854775808, "image_id": 1, "category_id": 3}'),
    "bbox of 3": _doc('{"id": 7, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3]}'),
    "bbox of strings": _doc('{"id": 7, "image_id": 1, "category_id": 3, "bbox": ["1", "2", "3", "4"]}'),
    "string area": _doc('{"id": 7, "image_id": 1, "category_id": 3, "area": "5"}'),
    "iscrowd true": _doc('{"id": 7, "image_id": 1, "category_id": 3, "iscrowd": true}'),
    "iscrowd 2": _doc('{"id": 7, "image_id": 1, "category_id": 3, "iscrowd": 2}'),
    "segmentation number": _doc('{"id": 7, "image_id": 1, "category_id": 3, "segmentation": 5}'),
    "odd polygon": _doc('{"id": 7, "image_id": 1, "category_id": 3, "segmentation": [[1, 2, 3, 4, 5, 6, 7]]}'),
    "lone surrogate": _anns('{"categories": [{"id": 1, "name": "\\ud800"}]}'),
    "lone surrogates in keys": _anns('{"info": {"\\ud800": 1, "a\\udc00b": 2}, "images": [{"id": 1, "height": 1, "width": 1, "f\\udbff": 3}]}'),
    "surrogates split by a character": _anns('{"info": {"\\ud83d{\\ude00": "\\ud83d{\\ude00"}}'),
    "low surrogate first": _anns('{"info": "\\ude00\\ud83d"}'),
    "name a number": _anns('{"categories": [{"id": 1, "name": 5}]}'),
    "height a string": _anns('{"images": [{"id": 1, "height": "4", "width": 5}]}'),
    "annotations an object": '{"annotations": {}}',
    "images an empty string": _anns('{"images": ""}'),
}  # fmt: skip


@pytest.mark.parametrize("text", list(ODD_VALID.values()), ids=list(ODD_VALID))
def test_odd_but_valid_json_loads_equal(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, text.encode("utf-8"))
        theirs = py_coco(path)
        assert not schema_problems(theirs.dataset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with quiet():
                ours = impl.COCO(path)
        assert_coco_equal(ours, theirs)
    check_outcome(text.encode("utf-8"))


@pytest.mark.parametrize("text", list(ODD_REFUSED.values()), ids=list(ODD_REFUSED))
def test_what_pycocotools_refuses_is_a_cocors_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, text.encode("utf-8"))
        with pytest.raises(Exception):
            py_coco(path)
        with pytest.raises(impl.CocorsError):
            with quiet():
                impl.COCO(path)


@pytest.mark.parametrize("text", list(ODD_EITHER.values()), ids=list(ODD_EITHER))
def test_questionable_documents_load_equal_or_raise(text: str) -> None:
    py_coco(json.loads(text))  # pycocotools loads it
    check_outcome(text.encode("utf-8"))


def test_invalid_utf8_is_a_parse_error() -> None:
    check_outcome(b'{"info": "\xff"}')
    check_outcome(b'{"info": "\xed\xa0\x80"}')  # a surrogate encoded in UTF-8 (invalid)
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(impl.ParseError):
            impl.COCO(_write(d, b'{"info": "\xc3"}'))


# ----------------------------------------------------------------------------------------------
# Error messages and warnings


def test_parse_error_names_file_offset_line_column() -> None:
    text = '{\n  "images": @\n}'
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, text.encode())
        with pytest.raises(impl.ParseError) as info:
            impl.COCO(path)
    assert isinstance(info.value, impl.CocorsError) and isinstance(info.value, ValueError)
    if impl.self_check:
        return
    msg = str(info.value)
    # Python's json says: "Expecting value: line 2 column 13 (char 14)".
    assert "doc.json" in msg, msg
    assert "14" in msg, msg
    assert re.search(r"\b2:13\b|line 2\W+column 13\b", msg), msg
    assert "expect" in msg.lower(), msg  # what was expected there


def test_parse_error_of_truncated_file() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, b'{"images": [{"id": 1, ')
        with pytest.raises(impl.ParseError) as info:
            impl.COCO(path)
    if not impl.self_check:
        assert "doc.json" in str(info.value)


@pytest.mark.parametrize(
    "text,record,rid,fieldname",
    [
        (
            _doc(
                '{"id": 1, "image_id": 1, "category_id": 3}, {"id": 2, "image_id": 1, "category_id": 3}, '
                '{"id": 3, "image_id": 1, "category_id": 3}, {"id": 77, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3]}'
            ),
            "annotations[3]",
            "77",
            "bbox",
        ),
        ('{"images": [%s, {"id": "x", "height": 1, "width": 1}]}' % _IMG, "images[1]", None, "id"),
        ('{"categories": [%s, {"name": "cat", "id": "41"}]}' % _CAT, "categories[1]", None, "id"),
        (_doc('{"id": 5, "image_id": "1", "category_id": 3}'), "annotations[0]", "5", "image_id"),
    ],
)
def test_schema_error_names_record_id_and_field(text: str, record: str, rid: Optional[str], fieldname: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, text.encode())
        with pytest.raises(impl.SchemaError) as info:
            with quiet():
                impl.COCO(path)
    assert isinstance(info.value, impl.CocorsError) and isinstance(info.value, ValueError)
    if impl.self_check:
        return
    msg = str(info.value)
    assert record in msg and fieldname in msg, msg
    if rid is not None:
        assert rid in msg, msg


def test_exception_tree() -> None:
    assert issubclass(impl.ParseError, impl.CocorsError)
    assert issubclass(impl.SchemaError, impl.CocorsError)
    assert issubclass(impl.CocorsError, ValueError)


def test_missing_file_is_an_os_error() -> None:
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(OSError):
            with quiet():
                impl.COCO(os.path.join(d, "nope.json"))


@pytest.mark.parametrize("kind", ["images", "annotations", "categories"])
def test_duplicate_ids_warn_and_last_wins(kind: str) -> None:
    recs = {
        "images": ['{"id": 1, "height": 2, "width": 2, "v": 1}', '{"id": 2, "height": 2, "width": 2}',
                   '{"id": 1, "height": 3, "width": 3, "v": 2}'],
        "annotations": ['{"id": 5, "image_id": 1, "category_id": 3, "v": 1}', '{"id": 6, "image_id": 1, "category_id": 3}',
                        '{"id": 5, "image_id": 2, "category_id": 3, "v": 2}'],
        "categories": ['{"id": 3, "name": "a"}', '{"id": 4, "name": "b"}', '{"id": 3, "name": "c"}'],
    }  # fmt: skip
    parts = {"images": [_IMG], "annotations": [], "categories": [_CAT]}
    parts[kind] = recs[kind]
    text = "{%s}" % ", ".join('"%s": [%s]' % (k, ", ".join(v)) for k, v in parts.items())
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, text.encode())
        theirs = py_coco(path)
        with pytest.warns(Warning):
            with quiet():
                ours = impl.COCO(path)
        assert_coco_equal(ours, theirs)
        # Last value, first position: pycocotools assigns into a dict.
        mapping = {"images": theirs.imgs, "annotations": theirs.anns, "categories": theirs.cats}[kind]
        assert len(mapping) == 2 and list(mapping)[0] in (1, 5, 3)
        with pytest.warns(Warning):
            with quiet():
                assert_coco_equal(impl.COCO(json.loads(text)), theirs)


def test_floats_keep_their_exact_value() -> None:
    # Correctly rounded parsing, as Python's float(): the classic hard cases.
    hard = ["0.1", "2.2250738585072011e-308", "9007199254740993", "1.00000000000000011102230246251565404236316680908203125",
            "7.038531e-26", "4.9406564584124654e-324", "1e23", "8.41e21", "5e-324", "1.7976931348623158e308"]  # fmt: skip
    ann = ", ".join(
        '{"id": %d, "image_id": 1, "category_id": 3, "area": %s, "bbox": [%s, -%s, 0, 0]}' % (i, h, h, h)
        for i, h in enumerate(hard)
    )
    check_outcome(_doc(ann).encode())
    with tempfile.TemporaryDirectory() as d:
        with quiet():
            ours = impl.COCO(_write(d, _doc(ann).encode()))
    for i, h in enumerate(hard):
        a = ours.anns[i]
        assert a["area"] == json.loads(h) and type(a["area"]) is type(json.loads(h))
        assert math.copysign(1.0, a["bbox"][1]) == -1.0
