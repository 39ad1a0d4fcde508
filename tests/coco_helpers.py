"""Shared by the cocors.COCO parity tests (test_coco_real.py, test_coco_hypothesis.py).

- ``load_impl()`` gives the implementation under test: ``cocors.COCO`` and its error classes, or
  skips the calling module while cocors has no ``COCO``. ``COCORS_TEST_SELF_CHECK=1`` swaps in
  ``SelfCheckCOCO`` (pycocotools' COCO plus reference versions of the cocors extras), to check
  that the tests themselves pass when pycocotools is compared with itself.
- ``assert_strict`` is an exact comparison of JSON-like values (type identity, dict key order,
  float sign and NaN, numpy dtype/shape); ``assert_coco_equal`` compares every attribute of a
  COCO with pycocotools' through the read-only views' whole mapping interface.
- ``same_call`` runs one call on both and compares results, or the exception type.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import math
import os
import types
import warnings
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest
from pycocotools.coco import COCO as PyCOCO

SELF_CHECK = os.environ.get("COCORS_TEST_SELF_CHECK") == "1"
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


# ----------------------------------------------------------------------------------------------
# The implementation under test


class _SelfCheckError(ValueError):
    pass


class _SelfCheckParseError(_SelfCheckError):
    pass


class _SelfCheckSchemaError(_SelfCheckError):
    pass


class SelfCheckCOCO(PyCOCO):
    """pycocotools' COCO with the cocors contract's extras, written the obvious way: the oracle
    the tests are checked against with COCORS_TEST_SELF_CHECK=1."""

    def __init__(self, annotation_file: Any = None) -> None:
        super().__init__(None)
        if annotation_file is None:
            return
        if isinstance(annotation_file, dict):
            dataset = annotation_file
        else:
            path = os.fspath(annotation_file)
            opener = gzip.open if str(path).endswith(".gz") else open
            with opener(path, "rb") as f:
                raw = f.read()
            try:
                dataset = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise _SelfCheckParseError(f"{path}: {e}") from None
        problems = schema_problems(dataset)
        if problems:
            raise _SelfCheckSchemaError("; ".join(problems))
        for kind in ("images", "annotations", "categories"):
            ids = [r["id"] for r in dataset.get(kind, [])]
            if len(set(ids)) != len(ids):
                warnings.warn(f"duplicate {kind} ids", UserWarning)
        self.dataset = dataset
        self.createIndex()

    def loadRes(self, resFile: Any) -> "SelfCheckCOCO":
        out = SelfCheckCOCO()
        if type(resFile) is list and not resFile:
            # cocors' documented difference: an empty result set (pycocotools: IndexError).
            out.dataset = {
                "info": copy.deepcopy(self.dataset.get("info", {})),
                "images": list(self.dataset["images"]),
                "categories": copy.deepcopy(self.dataset.get("categories", [])),
                "annotations": [],
            }
            with quiet():
                out.createIndex()
            return out
        res = super().loadRes(resFile)
        out.__dict__.update(res.__dict__)
        return out

    def image_targets(self, img_id: Any) -> Dict[str, np.ndarray]:
        return expected_image_targets(self, img_id)

    def image_masks(self, img_id: Any, decode: bool = True) -> Any:
        if decode:
            return expected_image_masks(self, img_id)
        return expected_image_rles(self, img_id)


def load_impl() -> types.SimpleNamespace:
    """The implementation under test; skips the calling test module if there is none yet."""
    if SELF_CHECK:
        return types.SimpleNamespace(
            COCO=SelfCheckCOCO,
            CocorsError=_SelfCheckError,
            ParseError=_SelfCheckParseError,
            SchemaError=_SelfCheckSchemaError,
            module=None,
            self_check=True,
        )
    cocors = pytest.importorskip("cocors")
    if not hasattr(cocors, "COCO"):
        pytest.skip("cocors.COCO is not built yet", allow_module_level=True)
    return types.SimpleNamespace(
        COCO=cocors.COCO,
        CocorsError=cocors.CocorsError,
        ParseError=getattr(cocors, "ParseError", cocors.CocorsError),
        SchemaError=getattr(cocors, "SchemaError", cocors.CocorsError),
        module=cocors,
        self_check=False,
    )


@contextlib.contextmanager
def quiet():
    """Swallow the progress lines pycocotools prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def py_coco(source: Any) -> PyCOCO:
    """pycocotools' COCO of a path, or of a dict the way pycocotools users do it (its
    constructor takes no dict): ``c = COCO(); c.dataset = d; c.createIndex()``."""
    with quiet():
        if isinstance(source, dict):
            c = PyCOCO()
            c.dataset = source
            c.createIndex()
            return c
        return PyCOCO(source)


# ----------------------------------------------------------------------------------------------
# What cocors must accept: the COCO schema as a loader can check it (the tests' definition)


def _is_int(v: Any) -> bool:
    return type(v) is int and I64_MIN <= v <= I64_MAX


def _is_num(v: Any) -> bool:
    return _is_int(v) or type(v) is float


def _has_lone_surrogate(v: Any) -> bool:
    if type(v) is str:
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in v)
    if type(v) is list:
        return any(_has_lone_surrogate(x) for x in v)
    if type(v) is dict:
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(x) for k, x in v.items())
    return False


def _segm_ok(s: Any) -> bool:
    if type(s) is list:
        return all(
            type(p) is list and len(p) % 2 == 0 and len(p) >= 6 and all(_is_num(x) for x in p)
            for p in s
        )
    if type(s) is dict:
        if set(s) != {"counts", "size"}:
            return False
        size, counts = s["size"], s["counts"]
        if not (type(size) is list and len(size) == 2 and all(_is_int(x) and x >= 0 for x in size)):
            return False
        if type(counts) is str:
            return True
        return type(counts) is list and all(_is_int(x) and 0 <= x < 2**32 for x in counts)
    return False


def schema_problems(doc: Any) -> List[str]:
    """Why ``doc`` (what json.load gave) is not a plainly valid COCO document; [] if it is.

    A plainly valid document must load in cocors exactly as in pycocotools. Anything else may
    load equal or raise a cocors error (pycocotools itself may or may not load it). The checks:
    integer ids (within int64, not bool), image ``height``/``width`` non-negative ints,
    annotation ``image_id``/``category_id`` ints, ``iscrowd`` 0 or 1, ``area`` a number,
    ``bbox`` 4 numbers, ``segmentation`` polygons (even length >= 6) or an RLE dict with exactly
    ``counts`` and ``size``, ``keypoints`` numbers, category ``name`` (and ``supercategory``) a
    str; no unpaired surrogate in any string (Python's json accepts ``"\\ud800"``). NaN,
    Infinity, ``1e400``, big ints in other fields and duplicate object keys are all valid.
    """
    if type(doc) is not dict:
        return ["top level is not an object"]
    out: List[str] = []
    if _has_lone_surrogate(doc):
        out.append("a string holds an unpaired surrogate")
    for kind in ("images", "annotations", "categories"):
        if kind not in doc:
            continue
        recs = doc[kind]
        if type(recs) is not list:
            out.append(f"{kind} is not an array")
            continue
        for i, r in enumerate(recs):
            where = f"{kind}[{i}]"
            if type(r) is not dict:
                out.append(f"{where} is not an object")
                continue
            if not _is_int(r.get("id")):
                out.append(f"{where}.id")
            if kind == "images":
                for f in ("height", "width"):
                    if not (_is_int(r.get(f)) and r[f] >= 0):
                        out.append(f"{where}.{f}")
            elif kind == "annotations":
                if not _is_int(r.get("image_id")):
                    out.append(f"{where}.image_id")
                # Captions files have no category_id (and no categories): pycocotools needs it
                # only to build catToImgs.
                if ("category_id" in r or "categories" in doc) and not _is_int(r.get("category_id")):
                    out.append(f"{where}.category_id")
                if "iscrowd" in r and not (type(r["iscrowd"]) is int and r["iscrowd"] in (0, 1)):
                    out.append(f"{where}.iscrowd")
                if "area" in r and not _is_num(r["area"]):
                    out.append(f"{where}.area")
                if "bbox" in r and not (
                    type(r["bbox"]) is list and len(r["bbox"]) == 4 and all(_is_num(x) for x in r["bbox"])
                ):
                    out.append(f"{where}.bbox")
                if "segmentation" in r and not _segm_ok(r["segmentation"]):
                    out.append(f"{where}.segmentation")
                if "keypoints" in r and not (
                    type(r["keypoints"]) is list and all(_is_num(x) for x in r["keypoints"])
                ):
                    out.append(f"{where}.keypoints")
                if "num_keypoints" in r and not _is_int(r["num_keypoints"]):
                    out.append(f"{where}.num_keypoints")
            else:
                if type(r.get("name")) is not str:
                    out.append(f"{where}.name")
                if "supercategory" in r and type(r["supercategory"]) is not str:
                    out.append(f"{where}.supercategory")
    return out


# ----------------------------------------------------------------------------------------------
# Exact comparison


def assert_strict(a: Any, b: Any, path: str = "value") -> None:
    """``a`` (cocors) is exactly ``b`` (pycocotools): same types (int stays int, float stays
    float, dicts are dicts with the same key order), floats equal with the same sign or both
    NaN, numpy arrays with the same dtype, shape, memory order and values."""
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), f"{path}: {type(a)} vs {type(b)}"
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} vs {b.dtype}"
        assert a.shape == b.shape, f"{path}: shape {a.shape} vs {b.shape}"
        assert a.flags.f_contiguous == b.flags.f_contiguous, f"{path}: Fortran order differs"
        assert a.flags.c_contiguous == b.flags.c_contiguous, f"{path}: C order differs"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{path}: values differ\n{a}\n{b}"
        return
    if isinstance(b, np.generic):
        assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
        if isinstance(b, np.floating) and np.isnan(b):
            assert np.isnan(a), f"{path}: {a!r} vs {b!r}"
        else:
            assert a == b, f"{path}: {a!r} vs {b!r}"
        return
    if type(b) is float:
        assert type(a) is float, f"{path}: {type(a).__name__} {a!r} vs float {b!r}"
        if math.isnan(b):
            assert math.isnan(a), f"{path}: {a!r} vs {b!r}"
        else:
            assert a == b and math.copysign(1, a) == math.copysign(1, b), f"{path}: {a!r} vs {b!r}"
        return
    if type(b) is dict:
        assert type(a) is dict, f"{path}: {type(a)} vs dict"
        assert list(a) == list(b), f"{path}: keys {list(a)} vs {list(b)}"
        for k in b:
            assert_strict(a[k], b[k], f"{path}[{k!r}]")
        return
    if type(b) in (list, tuple):
        assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
        assert len(a) == len(b), f"{path}: length {len(a)} vs {len(b)}\n{a!r}\n{b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_strict(x, y, f"{path}[{i}]")
        return
    assert type(a) is type(b) and a == b, f"{path}: {type(a).__name__} {a!r} vs {type(b).__name__} {b!r}"


def _absent_key(d: Dict[Any, Any]) -> int:
    ints = [k for k in d if type(k) is int]
    return (max(ints) if ints else 0) + 7919


def assert_mapping(view: Any, d: Dict[Any, Any], path: str, default_list: bool = False) -> None:
    """A read-only mapping view equals pycocotools' dict (or defaultdict) through len, keys
    (order and types), iteration, []/in/get, values() and items(). ``default_list``: a missing
    key gives [] (imgToAnns, catToImgs); otherwise KeyError."""
    assert len(view) == len(d), f"{path}: len {len(view)} vs {len(d)}"
    assert_strict(list(view.keys()), list(d.keys()), f"{path}.keys()")
    assert_strict(list(iter(view)), list(d), f"iter({path})")
    for k, v in d.items():
        assert k in view, f"{path}: {k!r} not in view"
        assert_strict(view[k], v, f"{path}[{k!r}]")
    assert_strict(list(view.values()), list(d.values()), f"{path}.values()")
    items = list(view.items())
    assert len(items) == len(d)
    for (k, v), (k2, v2) in zip(items, d.items()):
        assert_strict(k, k2, f"{path}.items() key")
        assert_strict(v, v2, f"{path}.items()[{k2!r}]")
    for k in list(d)[:3]:
        assert_strict(view.get(k), d[k], f"{path}.get({k!r})")
    missing = _absent_key(d)
    assert missing not in view
    assert view.get(missing) is None
    assert view.get(missing, "dflt") == "dflt"
    if default_list:
        assert_strict(view[missing], [], f"{path}[missing]")
    else:
        with pytest.raises(KeyError):
            view[missing]


RECORD_KINDS = ("images", "annotations", "categories")


def assert_dataset(ours: Any, theirs: Dict[str, Any]) -> None:
    """``dataset``: same top-level keys in order; the record arrays are sequences (len, indexing,
    iteration) equal to pycocotools' lists; every other value exactly what json.load gave."""
    assert len(ours) == len(theirs)
    assert_strict(list(ours.keys()), list(theirs.keys()), "dataset.keys()")
    assert_strict(list(iter(ours)), list(theirs), "iter(dataset)")
    for k, v in theirs.items():
        assert k in ours
        got = ours[k]
        if k in RECORD_KINDS and type(v) is list:
            assert len(got) == len(v), f"len(dataset[{k!r}])"
            assert_strict(list(got), v, f"list(dataset[{k!r}])")
            for i in range(len(v)):
                assert_strict(got[i], v[i], f"dataset[{k!r}][{i}]")
            if v:
                assert_strict(got[-1], v[-1], f"dataset[{k!r}][-1]")
        else:
            assert_strict(got, v, f"dataset[{k!r}]")
    assert "no such top-level key" not in ours


def assert_coco_equal(ours: Any, theirs: PyCOCO) -> None:
    """Every attribute of ``ours`` equals pycocotools'. Call it before any getImgIds(catIds=...)
    on ``theirs``: pycocotools' defaultdict gains a key for every unknown category asked for."""
    assert_dataset(ours.dataset, theirs.dataset)
    assert_mapping(ours.anns, theirs.anns, "anns")
    assert_mapping(ours.imgs, theirs.imgs, "imgs")
    assert_mapping(ours.cats, theirs.cats, "cats")
    assert_mapping(ours.imgToAnns, theirs.imgToAnns, "imgToAnns", default_list=True)
    assert_mapping(ours.catToImgs, theirs.catToImgs, "catToImgs", default_list=True)


def same_call(ours: Callable[[], Any], theirs: Callable[[], Any], what: str) -> Any:
    """Run one call on each side: the same result (exactly), or, where pycocotools raises, an
    exception of the same type (KeyError, TypeError, IndexError... as a drop-in must)."""
    try:
        want = theirs()
    except Exception as e:  # noqa: BLE001 - any pycocotools exception is the expectation
        try:
            got = ours()
        except Exception as mine:  # noqa: BLE001
            assert isinstance(mine, type(e)), f"{what}: raised {type(mine).__name__}({mine}), pycocotools {type(e).__name__}({e})"
            return None
        raise AssertionError(f"{what}: returned {got!r}, pycocotools raised {type(e).__name__}({e})")
    got = ours()
    assert_strict(got, want, what)
    return want


# ----------------------------------------------------------------------------------------------
# The cocors extras, derived from pycocotools


def _targets_apply(anns: List[Dict[str, Any]]) -> bool:
    return all(
        "bbox" in a
        and np.asarray(a["bbox"]).shape == (4,)
        and "area" in a
        and "category_id" in a
        and isinstance(a.get("iscrowd", 0), (int, np.integer))
        for a in anns
    )


def expected_image_targets(pyc: PyCOCO, img_id: Any) -> Dict[str, np.ndarray]:
    """image_targets from pycocotools' imgToAnns (a missing ``iscrowd`` counts as 0)."""
    anns = pyc.imgToAnns.get(img_id, [])
    n = len(anns)
    return {
        "ann_ids": np.array([a["id"] for a in anns], dtype=np.int64).reshape(n),
        "boxes": np.array([np.asarray(a["bbox"], dtype=np.float64) for a in anns], dtype=np.float64).reshape(n, 4),
        "category_ids": np.array([a["category_id"] for a in anns], dtype=np.int64).reshape(n),
        "iscrowd": np.array([a.get("iscrowd", 0) for a in anns], dtype=np.uint8).reshape(n),
        "areas": np.array([a["area"] for a in anns], dtype=np.float64).reshape(n),
    }


def expected_image_masks(pyc: PyCOCO, img_id: Any) -> np.ndarray:
    img = pyc.imgs[img_id]
    anns = pyc.imgToAnns.get(img_id, [])
    if not anns:
        return np.zeros((img["height"], img["width"], 0), dtype=np.uint8, order="F")
    return np.asfortranarray(np.stack([pyc.annToMask(a) for a in anns], axis=2))


def _compressed(rle: Dict[str, Any]) -> Dict[str, Any]:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}


def expected_image_rles(pyc: PyCOCO, img_id: Any) -> List[Dict[str, Any]]:
    return [_compressed(pyc.annToRLE(a)) for a in pyc.imgToAnns.get(img_id, [])]


def _assert_array(got: Any, want: np.ndarray, what: str) -> None:
    assert isinstance(got, np.ndarray), f"{what}: {type(got)}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), f"{what}: values differ\n{got}\n{want}"


def check_image_extras(ours: Any, pyc: PyCOCO, img_ids: List[Any]) -> Tuple[int, int]:
    """image_targets and image_masks (decoded and not) of each image agree with pycocotools'
    imgToAnns/annToMask/annToRLE wherever those apply; returns how many images had their
    targets checked and how many their masks."""
    targets = checked = 0
    for img_id in img_ids:
        anns = pyc.imgToAnns.get(img_id, [])
        if _targets_apply(anns):
            got = ours.image_targets(img_id)
            want = expected_image_targets(pyc, img_id)
            assert isinstance(got, dict) and set(got) >= set(want), f"image_targets({img_id!r}): keys {list(got)}"
            for k, v in want.items():
                _assert_array(got[k], v, f"image_targets({img_id!r})[{k!r}]")
            targets += 1
        img = pyc.imgs.get(img_id)
        if img is None or not all(type(img.get(f)) is int for f in ("height", "width")):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want_masks = expected_image_masks(pyc, img_id)
                want_rles = expected_image_rles(pyc, img_id)
        except Exception:  # noqa: BLE001 - pycocotools cannot make these masks: no contract
            continue
        if want_masks.shape[:2] != (img["height"], img["width"]):
            continue
        got = ours.image_masks(img_id)
        _assert_array(got, want_masks, f"image_masks({img_id!r})")
        assert got.flags.f_contiguous, f"image_masks({img_id!r}) is not Fortran order"
        rles = ours.image_masks(img_id, decode=False)
        assert isinstance(rles, list) and len(rles) == len(want_rles), f"image_masks({img_id!r}, decode=False)"
        for i, (g, w) in enumerate(zip(rles, want_rles)):
            assert list(g["size"]) == w["size"], f"image_masks({img_id!r}, decode=False)[{i}] size"
            assert_strict(g["counts"], w["counts"], f"image_masks({img_id!r}, decode=False)[{i}] counts")
        checked += 1
    return targets, checked


def check_ann_masks(ours: Any, pyc: PyCOCO, anns: List[Dict[str, Any]]) -> int:
    """annToRLE and annToMask of each annotation pycocotools can convert; returns the count."""
    n = 0
    for ann in anns:
        try:
            want_rle = pyc.annToRLE(ann)
            want_mask = pyc.annToMask(ann)
        except Exception:  # noqa: BLE001 - not convertible by pycocotools: no contract
            continue
        assert_strict(ours.annToRLE(ann), want_rle, f"annToRLE(ann {ann.get('id')!r})")
        assert_strict(ours.annToMask(ann), want_mask, f"annToMask(ann {ann.get('id')!r})")
        n += 1
    return n
