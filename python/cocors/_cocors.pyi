# Hand-written stubs of the native module; `python -m mypy.stubtest cocors._cocors` checks them.
# Argument checking and pycocotools-style dispatch live in cocors.mask; these functions take
# already-normalised arguments.
import os
from typing import Any, ClassVar, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from typing_extensions import final
import numpy.typing as npt

__all__ = [
    "__version__",
    "encode",
    "decode",
    "merge",
    "area",
    "to_bbox",
    "iou_rles",
    "iou_boxes",
    "fr_bbox",
    "fr_poly",
    "fr_uncompressed",
    "counts_to_string",
    "counts_from_string",
    "set_num_threads",
    "get_num_threads",
    "Index",
    "image_targets",
    "EvalAnns",
    "Evaluation",
    "eval_anns_from_dicts",
    "eval_anns_from_index",
    "eval_anns_from_results",
    "evaluate",
]

__version__: str

_RLE = Dict[str, Any]

def encode(mask: npt.NDArray[np.uint8]) -> List[_RLE]:
    """RLE dicts of a Fortran-contiguous (h, w, n) uint8 array."""

def decode(rles: Iterable[Any]) -> npt.NDArray[np.uint8]:
    """(h, w, n) Fortran-ordered uint8 masks of a non-empty list of RLEs."""

def merge(rles: Iterable[Any], intersect: bool = False) -> _RLE:
    """Union (or intersection) of RLEs."""

def area(rles: Iterable[Any]) -> npt.NDArray[np.uint32]:
    """Foreground pixel counts."""

def to_bbox(rles: Iterable[Any]) -> npt.NDArray[np.float64]:
    """(n, 4) boxes [x, y, w, h]."""

def iou_rles(
    dt: Iterable[Any], gt: Iterable[Any], iscrowd: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float64]:
    """(m, n) Fortran-ordered IoU of RLE lists."""

def iou_boxes(
    dt: npt.NDArray[np.float64],
    gt: npt.NDArray[np.float64],
    iscrowd: npt.NDArray[np.uint8],
    out: npt.NDArray[np.float64],
) -> None:
    """IoU of N x 4 box arrays written into every entry of ``out``, (m, n) Fortran-ordered."""

def fr_bbox(bb: npt.NDArray[np.float64], h: int, w: int) -> List[_RLE]:
    """RLEs of an N x 4 float64 array of boxes."""

def fr_poly(polygons: Iterable[Sequence[float]], h: int, w: int) -> List[_RLE]:
    """RLEs of flat polygons."""

def fr_uncompressed(rles: Iterable[Any]) -> List[_RLE]:
    """Compressed RLEs of RLE dicts (each keeps its own size)."""

def counts_to_string(counts: Iterable[Union[int, float]]) -> bytes:
    """The compact counts string of run lengths."""

def counts_from_string(s: Union[bytes, str]) -> npt.NDArray[np.uint32]:
    """Run lengths of a compact counts string."""

def set_num_threads(n: int) -> None:
    """Set the worker thread count (0: COCORS_NUM_THREADS or the CPU count)."""

def get_num_threads() -> int:
    """The worker thread count."""

@final
class Index:
    """The lazy index of one COCO JSON file (plain or gzip); see cocors.coco."""

    FLAGS: ClassVar[List[Tuple[str, int]]]
    def __new__(cls, path: Union[str, bytes, os.PathLike[str]]) -> Index: ...
    @staticmethod
    def open_results(path: Union[str, bytes, os.PathLike[str]]) -> Index:
        """Indexes a results file (a JSON list of detections) as loadRes reads it: ids 1, 2, ...
        and the area and bbox columns loadRes derives."""
    @property
    def results_branch(self) -> Optional[str]:
        """The loadRes branch of a results file ('bbox', 'segm', 'keypoints', 'empty' or
        'other'); None for a dataset file."""
    @property
    def path(self) -> str: ...
    def keys(self) -> List[str]:
        """Top-level keys in document order."""
    def member(self, key: str) -> Any:
        """The value of a top-level member as json.load gives it."""
    def count(self, kind: str) -> int:
        """Number of records of kind ('images', 'annotations' or 'categories')."""
    def ids(self, kind: str) -> npt.NDArray[np.int64]:
        """Record ids in file order."""
    def has_duplicate_ids(self, kind: str) -> bool:
        """Whether an id occurs more than once."""
    def row(self, kind: str, id: int) -> Optional[int]:
        """Row of a record id (the last if repeated)."""
    def rows(self, kind: str, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Rows of ids (-1 where missing)."""
    def category_rows(self, cat_ids: List[int]) -> npt.NDArray[np.int64]:
        """Annotation rows, in file order, whose category_id is one of `cat_ids`."""
    def records(self, kind: str, rows: Sequence[int]) -> List[Any]:
        """Records as Python objects, in the order of rows."""
    def annotation_columns(self) -> Dict[str, npt.NDArray[Any]]:
        """image_id, category_id, area, bbox (n x 4) and flags columns."""
    def image_columns(self) -> Dict[str, npt.NDArray[Any]]:
        """width, height and flags columns."""
    def image_keys(self) -> npt.NDArray[np.int64]:
        """imgToAnns keys: distinct annotation image_ids in first-appearance order."""
    def image_rows(self, image_id: int) -> npt.NDArray[np.int64]:
        """Annotation rows of an image in file order."""
    def category_keys(self) -> npt.NDArray[np.int64]:
        """catToImgs keys: distinct annotation category_ids in first-appearance order."""
    def category_image_ids(self, category_id: int) -> npt.NDArray[np.int64]:
        """catToImgs[category_id]."""
    def image_rles(self, image_id: int) -> List[_RLE]:
        """Compressed RLE dicts of an image's annotations (annToRLE)."""
    def image_masks(self, image_id: int) -> npt.NDArray[np.uint8]:
        """(h, w, n) Fortran-ordered masks of an image's annotations."""
    def select_annotations(
        self,
        rows: Optional[Sequence[int]] = None,
        categories: Optional[Sequence[int]] = None,
        area: Optional[Tuple[float, Optional[float]]] = None,
        crowd: Optional[Tuple[bool, bool]] = None,
    ) -> npt.NDArray[np.int64]:
        """getAnnIds on the columns."""
    def heap_bytes(self) -> int:
        """Bytes held by the columns and lookups."""

def image_targets(
    index: Index, image_id: int
) -> Tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8],
    npt.NDArray[np.float64],
]:
    """(ann_ids, boxes, category_ids, iscrowd, areas) of an image's annotations."""

@final
class EvalAnns:
    """One side of an evaluation as columns (see cocors.cocoeval)."""

    def __len__(self) -> int: ...

@final
class Evaluation:
    """The result of evaluate(), kept in Rust (see cocors.cocoeval)."""

    def accumulate(
        self,
        k_list: Sequence[int],
        a_list: Sequence[int],
        m_list: Sequence[int],
        i_list: Sequence[int],
        rec_thrs: Sequence[float],
        dims: Tuple[int, int, int, int, int],
    ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(precision, recall, scores) flat in C order."""
    def cells(self) -> List[Tuple[int, int]]:
        """(category position, image position) of every cell with gt or dt."""
    def find_cell(self, k: int, i: int) -> Optional[int]:
        """The cell at (category position, image position)."""
    def ious(self, c: int) -> Optional[Tuple[int, int, npt.NDArray[np.float64]]]:
        """(D, G, flat Fortran-order IoU) of cell c, or None for pycocotools' []."""
    def eval_img(
        self, c: int, a: int
    ) -> Tuple[
        List[int],
        List[int],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        List[float],
        npt.NDArray[np.int64],
        npt.NDArray[np.bool_],
    ]:
        """evaluateImg of cell c at area range a, matrices flat row-major."""

def eval_anns_from_dicts(
    anns: List[Any], iou_type: str, gt: bool, imgs: Optional[Any] = None
) -> EvalAnns:
    """Columns of annotation dicts."""

def eval_anns_from_index(index: Index, rows: npt.NDArray[np.int64], iou_type: str) -> EvalAnns:
    """Ground-truth columns of rows of an indexed file."""

def eval_anns_from_results(
    results: Index, iou_type: str, gt: Optional[Index] = None, imgs: Optional[Any] = None
) -> EvalAnns:
    """Detection columns of an indexed results file (polygons sized by gt's images, or imgs)."""

def evaluate(
    gt: EvalAnns,
    dt: EvalAnns,
    iou_type: str,
    img_ids: Sequence[int],
    cat_ids: Sequence[int],
    use_cats: bool,
    iou_thrs: Sequence[float],
    area_rng: Sequence[Tuple[float, float]],
    max_det: int,
    kpt_oks_sigmas: Sequence[float],
    np_exp: Any,
) -> Evaluation:
    """COCOeval.evaluate() on two column sets."""
