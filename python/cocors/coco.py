"""``cocors.COCO``: a drop-in for ``pycocotools.coco.COCO`` over a lazy index of the file.

``COCO(path)`` makes one pass over the JSON file in Rust (validating it and recording where each
image, annotation and category lives, plus their ids, image ids, category ids, areas, crowd flags
and boxes as compact columns) and builds no Python object for the records. ``dataset``, ``anns``,
``imgs``, ``cats``, ``imgToAnns`` and ``catToImgs`` are read-only views with pycocotools' keys,
order and values: a record becomes a dict (exactly what ``json.load`` gives) when it is asked for,
and each access builds a new one, so memory stays a small fraction of the file whatever is read.

Built from a dict (``COCO(dataset)``, or ``c = COCO(); c.dataset = d; c.createIndex()``, as
torchvision and detectron2 do) and from ``loadRes``, the index is made of plain dicts exactly as
pycocotools makes it.

Beyond pycocotools, for data loaders: :meth:`COCO.image_targets` (the annotations of one image as
numpy arrays) and :meth:`COCO.image_masks` (their masks, rasterised in Rust from the file's
bytes). Objects pickle by path (a file-backed COCO reopens its file) and forked workers share the
index without copying it.
"""

from __future__ import annotations

import copy
import itertools
import json
import numbers
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Dict, Iterator, List, Optional, Union

import numpy as np

from . import _cocors
from . import mask as maskUtils
from .errors import FileError, SchemaError

__all__ = ["COCO"]

_KINDS = ("images", "annotations", "categories")
# The attributes of a results COCO that are built from its file when first read.
_RESULT_VIEWS = ("dataset", "anns", "imgs", "cats", "imgToAnns", "catToImgs")
# Records materialised per read when a whole view is iterated.
_BATCH = 4096


def _isArrayLike(obj: Any) -> bool:
    """pycocotools' test for "a list of ids": anything with ``__iter__`` and ``__len__``."""
    return hasattr(obj, "__iter__") and hasattr(obj, "__len__")


def _id_key(key: Any) -> Optional[int]:
    """The integer id a dict lookup with ``key`` would find (``1.0``, ``True`` and ``np.int64(1)``
    find the id 1, as they do in a Python dict), or None if it can match no integer id."""
    if type(key) is int:
        return key
    if isinstance(key, (numbers.Integral, np.bool_)):
        return int(key)
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        return int(key)
    return None


def _in_i64(key: Optional[int]) -> bool:
    return key is not None and -(2**63) <= key < 2**63


class _Records(Sequence):
    """``dataset['annotations']`` (or images, categories) of a file: a read-only sequence whose
    items are parsed from the file when accessed."""

    def __init__(self, index: Any, kind: str) -> None:
        self._index = index
        self._kind = kind
        self._n = index.count(kind)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self._index.records(self._kind, list(range(self._n))[i])
        j = i.__index__()
        if j < 0:
            j += self._n
        if not 0 <= j < self._n:
            raise IndexError(f"{self._kind} index {i} out of range")
        return self._index.records(self._kind, [j])[0]

    def __iter__(self) -> Iterator[Any]:
        for start in range(0, self._n, _BATCH):
            yield from self._index.records(self._kind, list(range(start, min(start + _BATCH, self._n))))

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, (list, tuple, Sequence)) and not isinstance(other, (str, bytes)):
            return len(other) == self._n and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self._n} {self._kind} of {os.fspath(self._index.path)}>"


class _DatasetView(Mapping):
    """``COCO.dataset`` of a file: the top-level keys in file order; each value is parsed when
    asked for (the record arrays are :class:`_Records` sequences)."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._keys = index.keys()

    def __getitem__(self, key: Any) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        if key in _KINDS:
            return _Records(self._index, key)
        return self._index.member(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Any) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return f"<COCO dataset view of {os.fspath(self._index.path)}: keys {self._keys}>"


class _RecordMap(Mapping):
    """``anns``, ``imgs`` or ``cats`` of a file: id -> record, keys in first-appearance order,
    the last record winning for a repeated id (as ``d[rec['id']] = rec`` does). Keys stay in a
    numpy array: nothing per record is built until it is asked for."""

    def __init__(self, index: Any, kind: str) -> None:
        self._index = index
        self._kind = kind
        # The keys (8 bytes a record) are read from the index when first needed.
        self._key_array: Optional[np.ndarray] = None
        self._rows: Optional[np.ndarray] = None

    @property
    def _keys(self) -> np.ndarray:
        if self._key_array is None:
            ids = self._index.ids(self._kind)
            if self._index.has_duplicate_ids(self._kind):
                _, first = np.unique(ids, return_index=True)
                self._key_array = ids[np.sort(first)]
                self._rows = self._index.rows(self._kind, self._key_array)
            else:
                self._key_array = ids
        return self._key_array

    def _row_list(self) -> List[int]:
        keys = self._keys
        return self._rows.tolist() if self._rows is not None else list(range(len(keys)))

    def __getitem__(self, key: Any) -> Any:
        k = _id_key(key)
        row = self._index.row(self._kind, k) if _in_i64(k) else None
        if row is None:
            raise KeyError(key)
        return self._index.records(self._kind, [row])[0]

    def __contains__(self, key: Any) -> bool:
        k = _id_key(key)
        return _in_i64(k) and self._index.row(self._kind, k) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys.tolist())

    def __len__(self) -> int:
        if self._key_array is None and not self._index.has_duplicate_ids(self._kind):
            return int(self._index.count(self._kind))
        return len(self._keys)

    def values(self) -> Any:  # type: ignore[override]
        rows = self._row_list()
        return [r for s in range(0, len(rows), _BATCH) for r in self._index.records(self._kind, rows[s : s + _BATCH])]

    def items(self) -> Any:  # type: ignore[override]
        return list(zip(self._keys.tolist(), self.values()))

    def __repr__(self) -> str:
        return f"<{len(self)} {self._kind} by id, lazily read from {os.fspath(self._index.path)}>"


class _ImgToAnns(Mapping):
    """``imgToAnns`` of a file: image_id -> its annotations in file order; like pycocotools'
    defaultdict, an image without annotations gives ``[]``."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._key_array: Optional[np.ndarray] = None

    @property
    def _keys(self) -> np.ndarray:
        if self._key_array is None:
            self._key_array = self._index.image_keys()
        return self._key_array

    def __getitem__(self, key: Any) -> List[Any]:
        k = _id_key(key)
        if not _in_i64(k):
            return []
        rows = self._index.image_rows(k)
        return self._index.records("annotations", rows.tolist()) if len(rows) else []

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __contains__(self, key: Any) -> bool:
        k = _id_key(key)
        return _in_i64(k) and len(self._index.image_rows(k)) > 0

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys.tolist())

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"<imgToAnns of {len(self)} images, lazily read from {os.fspath(self._index.path)}>"


class _CatToImgs(Mapping):
    """``catToImgs`` of a file: category_id -> the image_id of each of its annotations (repeats
    kept), built only when the document has ``categories``, as in pycocotools."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._keys: List[int] = index.category_keys().tolist()
        self._key_set = set(self._keys)

    def __getitem__(self, key: Any) -> List[int]:
        if key not in self._key_set:
            return []
        k = _id_key(key)
        return self._index.category_image_ids(k).tolist()

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __contains__(self, key: Any) -> bool:
        return key in self._key_set

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class COCO:
    """pycocotools' ``COCO``: same constructor, attributes and methods, same results.

    ``annotation_file`` may be a path (``str`` or ``os.PathLike``; plain JSON or gzip), a dict
    (the dataset itself, as faster-coco-eval allows), or None for an empty object. Bad files raise
    :class:`cocors.ParseError` (malformed JSON: file, byte offset, line:column, what was expected)
    or :class:`cocors.SchemaError` (a record with a missing or mistyped field), both
    ``ValueError`` subclasses; a missing file raises ``FileNotFoundError``.
    """

    def __init__(self, annotation_file: Any = None) -> None:
        self._index: Any = None
        self.dataset: Any = {}
        self.anns: Any = {}
        self.cats: Any = {}
        self.imgs: Any = {}
        self.imgToAnns: Any = defaultdict(list)
        self.catToImgs: Any = defaultdict(list)
        if annotation_file is None:
            return
        if isinstance(annotation_file, dict):
            self.dataset = annotation_file
            self.createIndex()
            return
        path = os.fspath(annotation_file)
        print("loading annotations into memory...")
        tic = time.time()
        self._open(path)
        print("Done (t={:0.2f}s)".format(time.time() - tic))
        print("creating index...")
        print("index created!")

    def _open(self, path: Union[str, bytes]) -> None:
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        index = _cocors.Index(path)
        self._index = index
        self.dataset = _DatasetView(index)
        self.anns = _RecordMap(index, "annotations")
        self.imgs = _RecordMap(index, "images")
        self.cats = _RecordMap(index, "categories")
        self.imgToAnns = _ImgToAnns(index)
        self.catToImgs = _CatToImgs(index)
        for kind in _KINDS:
            if index.has_duplicate_ids(kind):
                warnings.warn(
                    f"{os.fspath(path)}: some {kind} ids occur more than once; as in pycocotools, "
                    "the last record with an id is the one found by that id",
                    stacklevel=3,
                )

    # -- pickling and copying: a file-backed object carries its path, not its data -------------

    def __getstate__(self) -> Dict[str, Any]:
        if self.__dict__.get("_pending") is not None:
            self._materialize()
        if self._file_backed():
            return {"path": self._index.path}
        state = dict(self.__dict__)
        state["_index"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        if "path" in state and len(state) == 1:
            self.__init__()  # type: ignore[misc]
            self._open(state["path"])
        else:
            self.__dict__.update(state)

    def _file_backed(self) -> bool:
        return self._index is not None and isinstance(self.dataset, _DatasetView)

    # -- the index ------------------------------------------------------------------------------

    def createIndex(self) -> None:
        """Build ``anns``, ``imgs``, ``cats``, ``imgToAnns`` and ``catToImgs`` from ``dataset``
        (a no-op for a file that is already indexed)."""
        print("creating index...")
        if self.__dict__.get("_pending") is not None:
            if "dataset" not in self.__dict__:
                self._materialize()
                print("index created!")
                return
            self._pending = None  # the caller replaced the dataset: index theirs
        if self._file_backed():
            print("index created!")
            return
        self._build_index()
        print("index created!")

    def _build_index(self) -> None:
        self._index = None
        dataset = self.dataset
        anns: Dict[Any, Any] = {}
        cats: Dict[Any, Any] = {}
        imgs: Dict[Any, Any] = {}
        imgToAnns: Dict[Any, List[Any]] = defaultdict(list)
        catToImgs: Dict[Any, List[Any]] = defaultdict(list)
        if "annotations" in dataset:
            for ann in dataset["annotations"]:
                imgToAnns[ann["image_id"]].append(ann)
                anns[ann["id"]] = ann
        if "images" in dataset:
            for img in dataset["images"]:
                imgs[img["id"]] = img
        if "categories" in dataset:
            for cat in dataset["categories"]:
                cats[cat["id"]] = cat
        if "annotations" in dataset and "categories" in dataset:
            for ann in dataset["annotations"]:
                catToImgs[ann["category_id"]].append(ann["image_id"])
        for kind, table in (("images", imgs), ("annotations", anns), ("categories", cats)):
            if kind in dataset and len(table) < len(dataset[kind]):
                warnings.warn(
                    f"some {kind} ids occur more than once; as in pycocotools, the last record "
                    "with an id is the one found by that id",
                    stacklevel=3,
                )
        self.anns = anns
        self.imgToAnns = imgToAnns
        self.catToImgs = catToImgs
        self.imgs = imgs
        self.cats = cats

    def info(self) -> None:
        """Print ``dataset['info']``, one ``key: value`` line each."""
        for key, value in self.dataset["info"].items():
            print("{}: {}".format(key, value))

    # -- queries --------------------------------------------------------------------------------

    def getAnnIds(self, imgIds: Any = [], catIds: Any = [], areaRng: Any = [], iscrowd: Any = None) -> List[Any]:
        """Ids of the annotations that pass every given filter: of the images ``imgIds`` (in that
        order), of a category in ``catIds``, with ``areaRng[0] < area < areaRng[1]`` (strict) and
        ``iscrowd == iscrowd``."""
        imgIds = imgIds if _isArrayLike(imgIds) else [imgIds]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        if not self._file_backed():
            return self._get_ann_ids_dicts(imgIds, catIds, areaRng, iscrowd)
        if len(imgIds) == 0 and "annotations" not in self.dataset:
            raise KeyError("annotations")  # pycocotools reads dataset['annotations'] here
        rows = categories = area = crowd = None
        if not len(imgIds) == len(catIds) == len(areaRng) == 0:
            if len(imgIds) != 0:
                keys = [_id_key(i) for i in imgIds]
                parts = [self._index.image_rows(k) for k in keys if _in_i64(k)]
                rows = np.concatenate(parts).tolist() if parts else []
            if len(catIds) != 0:
                categories = [k for k in (_id_key(c) for c in catIds) if _in_i64(k)]
            if len(areaRng) != 0:
                # `area > lo and area < hi`: hi is read only once some area passes lo.
                area = (float(areaRng[0]), float(areaRng[1]) if len(areaRng) > 1 else None)
        if iscrowd is not None:
            # ann['iscrowd'] == iscrowd, for the two values a crowd flag can hold.
            crowd = (bool(1 == iscrowd), bool(0 == iscrowd))
        return self._index.select_annotations(rows, categories, area, crowd).tolist()

    def _get_ann_ids_dicts(self, imgIds: Any, catIds: Any, areaRng: Any, iscrowd: Any) -> List[Any]:
        if len(imgIds) == len(catIds) == len(areaRng) == 0:
            anns = self.dataset["annotations"]
        else:
            if len(imgIds) != 0:
                lists = [self.imgToAnns[i] for i in imgIds if i in self.imgToAnns]
                anns = list(itertools.chain.from_iterable(lists))
            else:
                anns = self.dataset["annotations"]
            if len(catIds) != 0:
                anns = [a for a in anns if a["category_id"] in catIds]
            if len(areaRng) != 0:
                anns = [a for a in anns if a["area"] > areaRng[0] and a["area"] < areaRng[1]]
        if iscrowd is not None:
            return [a["id"] for a in anns if a["iscrowd"] == iscrowd]
        return [a["id"] for a in anns]

    def getCatIds(self, catNms: Any = [], supNms: Any = [], catIds: Any = []) -> List[Any]:
        """Ids of the categories named in ``catNms``, of a supercategory in ``supNms`` and with an
        id in ``catIds`` (each filter skipped when empty), in file order."""
        catNms = catNms if _isArrayLike(catNms) else [catNms]
        supNms = supNms if _isArrayLike(supNms) else [supNms]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        cats = list(self.dataset["categories"])
        if len(catNms) != 0:
            cats = [c for c in cats if c["name"] in catNms]
        if len(supNms) != 0:
            cats = [c for c in cats if c["supercategory"] in supNms]
        if len(catIds) != 0:
            cats = [c for c in cats if c["id"] in catIds]
        return [c["id"] for c in cats]

    def getImgIds(self, imgIds: Any = [], catIds: Any = []) -> List[Any]:
        """Ids of the images in ``imgIds`` that have annotations of every category in ``catIds``
        (in Python set order, exactly as pycocotools returns them); all image ids without
        arguments."""
        imgIds = imgIds if _isArrayLike(imgIds) else [imgIds]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        if len(imgIds) == len(catIds) == 0:
            return list(self.imgs)
        # The same set operations on the same values in the same order give the same order.
        ids = set(imgIds)
        for i, catId in enumerate(catIds):
            if i == 0 and len(ids) == 0:
                ids = set(self.catToImgs[catId])
            else:
                ids &= set(self.catToImgs[catId])
        return list(ids)

    def _load(self, table: Any, kind: str, ids: Any) -> Any:
        if _isArrayLike(ids):
            if not self._file_backed():
                return [table[i] for i in ids]
            ids = list(ids)
            keys = [_id_key(i) for i in ids]
            if all(_in_i64(k) for k in keys):
                rows = self._index.rows(kind, np.array(keys, dtype=np.int64))
                missing = np.flatnonzero(rows < 0)
                if len(missing) == 0:
                    return self._index.records(kind, rows.tolist())
                raise KeyError(ids[int(missing[0])])
            return [table[i] for i in ids]
        if type(ids) is int:
            return [table[ids]]
        return None

    def loadAnns(self, ids: Any = []) -> Any:
        """The annotations with these ids (a list; an ``int`` gives a one-element list)."""
        return self._load(self.anns, "annotations", ids)

    def loadCats(self, ids: Any = []) -> Any:
        """The categories with these ids (a list; an ``int`` gives a one-element list)."""
        return self._load(self.cats, "categories", ids)

    def loadImgs(self, ids: Any = []) -> Any:
        """The images with these ids (a list; an ``int`` gives a one-element list)."""
        return self._load(self.imgs, "images", ids)

    # -- masks ----------------------------------------------------------------------------------

    def annToRLE(self, ann: Dict[str, Any]) -> Any:
        """The RLE of an annotation: polygons rasterised and merged, uncompressed RLE
        compressed, compressed RLE returned as it is (the same object)."""
        t = self.imgs[ann["image_id"]]
        h, w = t["height"], t["width"]
        segm = ann["segmentation"]
        if type(segm) is list:
            return maskUtils.merge(maskUtils.frPyObjects(segm, h, w))
        if type(segm["counts"]) is list:
            return maskUtils.frPyObjects(segm, h, w)
        return ann["segmentation"]

    def annToMask(self, ann: Dict[str, Any]) -> Any:
        """The (h, w) uint8 mask of an annotation."""
        return maskUtils.decode(self.annToRLE(ann))

    def image_targets(self, imgId: Any) -> Dict[str, np.ndarray]:
        """The annotations of image ``imgId`` (``imgToAnns`` order) as numpy arrays: ``ann_ids``
        (int64), ``boxes`` (n x 4 float64), ``category_ids`` (int64), ``iscrowd`` (uint8) and
        ``areas`` (float64). A missing field reads as 0. Beyond pycocotools."""
        if self._file_backed():
            k = _id_key(imgId)
            if not _in_i64(k):
                k = -(2**63)
            ids, boxes, cats, crowd, areas = _cocors.image_targets(self._index, k)
        else:
            anns = self.imgToAnns[imgId] if imgId in self.imgToAnns else []
            ids = np.array([a["id"] for a in anns], dtype=np.int64)
            boxes = np.array([a.get("bbox", [0, 0, 0, 0]) for a in anns], dtype=np.float64).reshape(-1, 4)
            cats = np.array([a.get("category_id", 0) for a in anns], dtype=np.int64)
            crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=np.uint8)
            areas = np.array([a.get("area", 0) for a in anns], dtype=np.float64)
        return {"ann_ids": ids, "boxes": boxes, "category_ids": cats, "iscrowd": crowd, "areas": areas}

    def image_masks(self, imgId: Any, decode: bool = True) -> Any:
        """The masks of the annotations of image ``imgId`` (``imgToAnns`` order): an (h, w, n)
        uint8 Fortran-ordered array with ``decode``, else the list of their compressed RLE dicts,
        each as ``annToRLE`` gives it. For a file they are made in Rust from its bytes, with no
        Python object per annotation. Beyond pycocotools."""
        if self._file_backed():
            k = _id_key(imgId)
            if not _in_i64(k):
                raise KeyError(imgId)
            return self._index.image_masks(k) if decode else self._index.image_rles(k)
        t = self.imgs[imgId]
        anns = self.imgToAnns[imgId] if imgId in self.imgToAnns else []
        rles = [self._compressed(self.annToRLE(a)) for a in anns]
        if not decode:
            return rles
        if not rles:
            return np.zeros((t["height"], t["width"], 0), dtype=np.uint8, order="F")
        return maskUtils.decode(rles)

    @staticmethod
    def _compressed(rle: Dict[str, Any]) -> Dict[str, Any]:
        counts = rle["counts"]
        if isinstance(counts, str):
            counts = counts.encode()
        return {"size": list(rle["size"]), "counts": counts}

    def showAnns(self, anns: Any, draw_bbox: bool = False) -> Any:
        """Draw annotations on the current matplotlib axes (needs matplotlib): polygons, masks,
        keypoint skeletons and optionally boxes; captions are printed."""
        if len(anns) == 0:
            return 0
        if "segmentation" in anns[0] or "keypoints" in anns[0]:
            kind = "instances"
        elif "caption" in anns[0]:
            kind = "captions"
        else:
            raise Exception("datasetType not supported")
        if kind == "captions":
            for ann in anns:
                print(ann["caption"])
            return None
        import matplotlib.pyplot as plt
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Polygon

        ax = plt.gca()
        ax.set_autoscale_on(False)
        polygons, colors = [], []
        for ann in anns:
            c = (np.random.random((1, 3)) * 0.6 + 0.4).tolist()[0]
            if "segmentation" in ann:
                segm = ann["segmentation"]
                if type(segm) is list:
                    for seg in segm:
                        polygons.append(Polygon(np.array(seg).reshape((len(seg) // 2, 2))))
                        colors.append(c)
                else:
                    t = self.imgs[ann["image_id"]]
                    if type(segm["counts"]) is list:
                        rle = maskUtils.frPyObjects([segm], t["height"], t["width"])
                    else:
                        rle = [segm]
                    m = maskUtils.decode(rle)
                    img = np.ones((m.shape[0], m.shape[1], 3))
                    if ann["iscrowd"] == 1:
                        color_mask = np.array([2.0, 166.0, 101.0]) / 255
                    if ann["iscrowd"] == 0:
                        color_mask = np.random.random((1, 3)).tolist()[0]
                    for i in range(3):
                        img[:, :, i] = color_mask[i]
                    ax.imshow(np.dstack((img, m * 0.5)))
            if "keypoints" in ann and type(ann["keypoints"]) is list:
                sks = np.array(self.loadCats(ann["category_id"])[0]["skeleton"]) - 1
                kp = np.array(ann["keypoints"])
                x, y, v = kp[0::3], kp[1::3], kp[2::3]
                for sk in sks:
                    if np.all(v[sk] > 0):
                        plt.plot(x[sk], y[sk], linewidth=3, color=c)
                plt.plot(x[v > 0], y[v > 0], "o", markersize=8, markerfacecolor=c, markeredgecolor="k", markeredgewidth=2)
                plt.plot(x[v > 1], y[v > 1], "o", markersize=8, markerfacecolor=c, markeredgecolor=c, markeredgewidth=2)
            if draw_bbox:
                bx, by, bw, bh = ann["bbox"]
                poly = [[bx, by], [bx, by + bh], [bx + bw, by + bh], [bx + bw, by]]
                polygons.append(Polygon(np.array(poly).reshape((4, 2))))
                colors.append(c)
        ax.add_collection(PatchCollection(polygons, facecolor=colors, linewidths=0, alpha=0.4))
        ax.add_collection(PatchCollection(polygons, facecolor="none", edgecolors=colors, linewidths=2))
        return None

    # -- results --------------------------------------------------------------------------------

    def loadRes(self, resFile: Any) -> "COCO":
        """A COCO object of detection results on this ground truth, exactly as pycocotools builds
        it: ``resFile`` is a JSON file path (``str`` or ``os.PathLike``), a list of result dicts
        (mutated in place, as in pycocotools) or an N x 7 array ``[image_id, x, y, w, h, score,
        category_id]``. Beyond pycocotools, ``[]`` gives a result set with no annotations.

        A results file of box, segmentation or keypoint detections is indexed in Rust (one pass,
        no dicts): ``loadRes``'s ids, areas and boxes are computed as columns, and ``COCOeval``
        reads them from there. The result dicts are built, exactly as pycocotools builds them,
        the first time anything reads ``dataset``, ``anns``, ``imgs``, ``cats``, ``imgToAnns``
        or ``catToImgs`` (or a method that does); from then on they are ordinary dicts that the
        evaluation reads, edits included. Other files (captions, or records that do not fit
        their branch) are loaded with ``json.load`` as pycocotools loads them."""
        print("Loading and preparing results...")
        tic = time.time()
        if isinstance(resFile, (str, os.PathLike)):
            res = self._results_file(os.fspath(resFile))
            if res is not None:
                print("DONE (t={:0.2f}s)".format(time.time() - tic))
                print("creating index...")
                print("index created!")
                return res
            with open(resFile) as f:
                anns = json.load(f)
        elif type(resFile) is np.ndarray:
            anns = self.loadNumpyAnnotations(resFile)
        else:
            anns = resFile
        res = COCO()
        self._results_head(res)
        self._results_body(res, anns, check=True)
        print("DONE (t={:0.2f}s)".format(time.time() - tic))
        res.createIndex()
        return res

    def _results_file(self, path: Union[str, bytes]) -> Optional["COCO"]:
        """A results COCO over the Rust index of a results file, or None where the file takes
        pycocotools' route (``json.load``): a missing file, captions, records that do not fit
        the branch of the first one (pycocotools then fails or keeps odd values its own way)."""
        if not os.path.isfile(path):
            return None
        try:
            index = _cocors.Index.open_results(path)
        except SchemaError:
            return None
        if index.results_branch == "other":
            return None
        # The checks pycocotools makes before it builds anything.
        self.dataset["images"]
        if index.results_branch != "empty":
            self.dataset["categories"]
        keys = index.image_keys()
        if self._file_backed():
            known = bool(np.all(self._index.rows("images", keys) >= 0))
        else:
            imgIds = set(self.getImgIds())
            known = all(k in imgIds for k in keys.tolist())
        assert known, "Results do not correspond to current coco set"
        res = COCO()
        for name in _RESULT_VIEWS:
            del res.__dict__[name]
        res._pending = (self, index)
        return res

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes that are not set: the dict views of a results file that
        # nobody has read yet.
        if name in _RESULT_VIEWS and self.__dict__.get("_pending") is not None:
            self._materialize()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _materialize(self) -> None:
        """Builds a results file's dicts as pycocotools' ``loadRes`` does (the same code on the
        records ``json.load`` would give), then its index; the evaluation reads the dicts
        from then on."""
        gt, index = self.__dict__.pop("_pending")
        self._pending = None
        built = COCO()
        gt._results_head(built)
        anns = index.records("annotations", list(range(index.count("annotations"))))
        gt._results_body(built, anns, check=False)
        built._build_index()
        for name in _RESULT_VIEWS:
            # An attribute the caller has set since loadRes stays theirs.
            if name not in self.__dict__:
                setattr(self, name, built.__dict__[name])

    def _results_head(self, res: "COCO") -> None:
        res.dataset["info"] = copy.deepcopy(self.dataset.get("info", {}))
        res.dataset["images"] = [img for img in self.dataset["images"]]

    def _results_body(self, res: "COCO", anns: Any, check: bool) -> None:
        """``loadRes`` from the loaded list on: its checks (with ``check``) and the branch that
        its first record selects, which completes each dict (ids, areas, boxes)."""
        if check:
            assert type(anns) is list, "results in not an array of objects"
            annsImgIds = [ann["image_id"] for ann in anns]
            assert set(annsImgIds) == (set(annsImgIds) & set(self.getImgIds())), \
                "Results do not correspond to current coco set"
        if len(anns) == 0:
            res.dataset["categories"] = copy.deepcopy(list(self.dataset["categories"]))
        elif "caption" in anns[0]:
            imgIds = set([img["id"] for img in res.dataset["images"]]) & set([ann["image_id"] for ann in anns])
            res.dataset["images"] = [img for img in res.dataset["images"] if img["id"] in imgIds]
            for id, ann in enumerate(anns):
                ann["id"] = id + 1
        elif "bbox" in anns[0] and not anns[0]["bbox"] == []:
            res.dataset["categories"] = copy.deepcopy(list(self.dataset["categories"]))
            for id, ann in enumerate(anns):
                bb = ann["bbox"]
                x1, x2, y1, y2 = [bb[0], bb[0] + bb[2], bb[1], bb[1] + bb[3]]
                if "segmentation" not in ann:
                    ann["segmentation"] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
                ann["area"] = bb[2] * bb[3]
                ann["id"] = id + 1
                ann["iscrowd"] = 0
        elif "segmentation" in anns[0]:
            res.dataset["categories"] = copy.deepcopy(list(self.dataset["categories"]))
            for id, ann in enumerate(anns):
                ann["area"] = maskUtils.area(ann["segmentation"])
                if "bbox" not in ann:
                    ann["bbox"] = maskUtils.toBbox(ann["segmentation"])
                ann["id"] = id + 1
                ann["iscrowd"] = 0
        elif "keypoints" in anns[0]:
            res.dataset["categories"] = copy.deepcopy(list(self.dataset["categories"]))
            for id, ann in enumerate(anns):
                s = ann["keypoints"]
                x = s[0::3]
                y = s[1::3]
                x0, x1, y0, y1 = np.min(x), np.max(x), np.min(y), np.max(y)
                ann["area"] = (x1 - x0) * (y1 - y0)
                ann["id"] = id + 1
                ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
        res.dataset["annotations"] = anns

    def download(self, tarDir: Any = None, imgIds: Any = []) -> Any:
        """Download the images (all, or ``imgIds``) from their ``coco_url`` into ``tarDir``.
        Without network access it raises :class:`cocors.FileError` naming the URL."""
        from urllib.error import URLError
        from urllib.request import urlretrieve

        if tarDir is None:
            print("Please specify target directory")
            return -1
        imgs = list(self.imgs.values()) if len(imgIds) == 0 else self.loadImgs(imgIds)
        N = len(imgs)
        if not os.path.exists(tarDir):
            os.makedirs(tarDir)
        for i, img in enumerate(imgs):
            tic = time.time()
            fname = os.path.join(tarDir, img["file_name"])
            if not os.path.exists(fname):
                try:
                    urlretrieve(img["coco_url"], fname)
                except (URLError, OSError) as e:
                    raise FileError(f"download: cannot fetch {img['coco_url']} into {fname}: {e}") from e
            print("downloaded {}/{} images (t={:0.1f}s)".format(i, N, time.time() - tic))
        return None

    def loadNumpyAnnotations(self, data: Any) -> List[Dict[str, Any]]:
        """Result dicts of an N x 7 array ``[image_id, x, y, w, h, score, category_id]`` (box and
        score values stay numpy float64, as in pycocotools)."""
        print("Converting ndarray to lists...")
        assert type(data) is np.ndarray
        print(data.shape)
        assert data.shape[1] == 7
        N = data.shape[0]
        ann = []
        for i in range(N):
            if i % 1000000 == 0:
                print("{}/{}".format(i, N))
            ann += [{
                "image_id": int(data[i, 0]),
                "bbox": [data[i, 1], data[i, 2], data[i, 3], data[i, 4]],
                "score": data[i, 5],
                "category_id": int(data[i, 6]),
            }]
        return ann
