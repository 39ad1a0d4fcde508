//! `cocors._cocors.Index`: the lazy index of a COCO file, as numpy columns and records built
//! into Python objects on request. The index is immutable and shared (`Arc`), so threads and
//! forked workers read it without copies; `cocors.coco` builds the pycocotools API on top.

use std::path::PathBuf;
use std::sync::Arc;

use cocors_core::index::{flag, AnnFilter, Index, Kind, SelectError};
use cocors_core::rle::Rle;
use numpy::{PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{made_rle_dicts, value_to_py, without_gc};
use crate::errors::{input_type, to_py};
use crate::mask::masks_array;

fn kind_of(py: Python<'_>, kind: &str) -> PyResult<Kind> {
    Kind::of_key(kind).ok_or_else(|| {
        input_type(
            py,
            format!("kind must be 'images', 'annotations' or 'categories', got {kind:?}"),
        )
    })
}

fn i64_array<'py>(py: Python<'py>, v: Vec<i64>) -> Bound<'py, PyArray1<i64>> {
    PyArray1::from_vec(py, v)
}

/// The lazy index of one COCO JSON file (plain or gzip).
#[pyclass(frozen, module = "cocors._cocors", name = "Index")]
pub struct PyIndex {
    pub(crate) inner: Arc<Index>,
}

#[pymethods]
impl PyIndex {
    /// Indexes the file at `path` in one pass, without the GIL.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let index = py.detach(|| Index::open(&path)).map_err(|e| to_py(py, e))?;
        Ok(PyIndex {
            inner: Arc::new(index),
        })
    }

    /// Indexes a results file (a JSON list of detections) as `loadRes` reads it, without the
    /// GIL: ids 1, 2, ... and the `area` and `bbox` columns `loadRes` derives.
    #[staticmethod]
    fn open_results(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let index = py
            .detach(|| Index::open_results(&path))
            .map_err(|e| to_py(py, e))?;
        Ok(PyIndex {
            inner: Arc::new(index),
        })
    }

    /// For a results file, the `loadRes` branch its first record selects (`'bbox'`, `'segm'`,
    /// `'keypoints'`, `'empty'` or `'other'`); None for a dataset file.
    #[getter]
    fn results_branch(&self) -> Option<&'static str> {
        self.inner.results.map(|b| b.name())
    }

    /// The path that was indexed.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.source().path().to_owned()
    }

    /// Top-level keys in document order.
    fn keys(&self) -> Vec<String> {
        self.inner.members.iter().map(|m| m.key.clone()).collect()
    }

    /// The value of top-level member `key` as `json.load` gives it (`KeyError` if absent).
    fn member<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = py
            .detach(|| self.inner.member_value(key))
            .map_err(|e| to_py(py, e))?;
        match v {
            Some(v) => without_gc(py, || value_to_py(py, &v)),
            None => Err(pyo3::exceptions::PyKeyError::new_err(key.to_owned())),
        }
    }

    /// Number of records of `kind`.
    fn count(&self, py: Python<'_>, kind: &str) -> PyResult<usize> {
        Ok(self.inner.table(kind_of(py, kind)?).len())
    }

    /// Ids of the records of `kind`, in file order.
    fn ids<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyArray1<i64>>> {
        Ok(i64_array(
            py,
            self.inner.table(kind_of(py, kind)?).ids.to_vec(),
        ))
    }

    /// Whether some id of `kind` occurs more than once.
    fn has_duplicate_ids(&self, py: Python<'_>, kind: &str) -> PyResult<bool> {
        Ok(self.inner.table(kind_of(py, kind)?).has_duplicate_ids())
    }

    /// The row of record `id` of `kind` (the last if repeated), or None.
    fn row(&self, py: Python<'_>, kind: &str, id: i64) -> PyResult<Option<usize>> {
        Ok(self.inner.table(kind_of(py, kind)?).row(id))
    }

    /// Rows of the ids of `kind` (-1 where there is no such record).
    fn rows<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        ids: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let table = self.inner.table(kind_of(py, kind)?);
        let rows = ids
            .as_array()
            .iter()
            .map(|&id| table.row(id).map_or(-1, |r| r as i64))
            .collect();
        Ok(i64_array(py, rows))
    }

    /// Annotation rows, in file order, whose category_id is one of `cat_ids`.
    fn category_rows<'py>(&self, py: Python<'py>, cat_ids: Vec<i64>) -> Bound<'py, PyArray1<i64>> {
        let rows = self.inner.category_rows(&cat_ids);
        i64_array(py, rows.into_iter().map(|r| r as i64).collect())
    }

    /// Records `rows` of `kind` as Python dicts, in the order given.
    fn records<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        rows: Vec<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let kind = kind_of(py, kind)?;
        let values = py
            .detach(|| self.inner.records(kind, &rows))
            .map_err(|e| to_py(py, e))?;
        without_gc(py, || {
            let list = PyList::empty(py);
            for v in &values {
                list.append(value_to_py(py, v)?)?;
            }
            Ok(list)
        })
    }

    /// Columns of the annotations: `image_id`, `category_id` (int64), `area` (float64),
    /// `bbox` (n x 4 float64) and `flags` (uint8 bits, see `FLAGS`); for a results file also
    /// `score` (float64).
    fn annotation_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let a = &self.inner.ann;
        let d = PyDict::new(py);
        d.set_item("image_id", i64_array(py, a.image_id.to_vec()))?;
        d.set_item("category_id", i64_array(py, a.category_id.to_vec()))?;
        d.set_item("area", PyArray1::from_slice(py, &a.area))?;
        let flat: Vec<f64> = (0..a.bbox.len()).flat_map(|r| a.bbox.get(r)).collect();
        d.set_item(
            "bbox",
            PyArray1::from_vec(py, flat).reshape([a.bbox.len(), 4])?,
        )?;
        d.set_item("flags", PyArray1::from_slice(py, &a.flags))?;
        if self.inner.results.is_some() {
            d.set_item("score", PyArray1::from_slice(py, &a.score))?;
        }
        Ok(d)
    }

    /// Columns of the images: `width`, `height` (int64) and `flags` (uint8 bits).
    fn image_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let i = &self.inner.img;
        let d = PyDict::new(py);
        let wide = |v: &[u32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<i64>>();
        d.set_item("width", i64_array(py, wide(&i.width)))?;
        d.set_item("height", i64_array(py, wide(&i.height)))?;
        d.set_item("flags", PyArray1::from_slice(py, &i.flags))?;
        Ok(d)
    }

    /// The flag bits of the `flags` columns.
    #[classattr]
    #[allow(non_snake_case)]
    fn FLAGS() -> Vec<(&'static str, u8)> {
        vec![
            ("HAS_CATEGORY", flag::HAS_CATEGORY),
            ("HAS_AREA", flag::HAS_AREA),
            ("HAS_BBOX", flag::HAS_BBOX),
            ("HAS_ISCROWD", flag::HAS_ISCROWD),
            ("ISCROWD", flag::ISCROWD),
            ("ISCROWD_BOOL", flag::ISCROWD_BOOL),
            ("HAS_WIDTH", flag::HAS_WIDTH),
            ("HAS_HEIGHT", flag::HAS_HEIGHT),
            ("HAS_SCORE", flag::HAS_SCORE),
            ("HAS_SEGMENTATION", flag::HAS_SEGMENTATION),
            ("HAS_NUM_KEYPOINTS", flag::HAS_NUM_KEYPOINTS),
            ("NO_KEYPOINTS", flag::NO_KEYPOINTS),
        ]
    }

    /// Distinct image_ids of the annotations in first-appearance order (`imgToAnns` keys).
    fn image_keys<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        i64_array(py, self.inner.by_image.keys.to_vec())
    }

    /// Annotation rows of image `image_id` in file order (empty if it has none).
    fn image_rows<'py>(&self, py: Python<'py>, image_id: i64) -> Bound<'py, PyArray1<i64>> {
        let rows = self.inner.image_rows(image_id);
        i64_array(py, rows.into_iter().map(|r| r as i64).collect())
    }

    /// Distinct category_ids of the annotations in first-appearance order (`catToImgs` keys;
    /// empty when the document has no `categories`).
    fn category_keys<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        i64_array(py, self.inner.category_keys.clone())
    }

    /// Image ids of the annotations of `category_id`, in file order (`catToImgs[c]`).
    fn category_image_ids<'py>(
        &self,
        py: Python<'py>,
        category_id: i64,
    ) -> Bound<'py, PyArray1<i64>> {
        i64_array(py, self.inner.category_image_ids(category_id))
    }

    /// RLE dicts (`annToRLE`, compressed) of the annotations of `image_id`, made from the file
    /// without the GIL.
    fn image_rles<'py>(&self, py: Python<'py>, image_id: i64) -> PyResult<Bound<'py, PyList>> {
        made_rle_dicts(py, || self.rles_of_image(image_id).map(|(r, _, _)| r))
    }

    /// The (h, w, n) uint8 Fortran-ordered masks of the annotations of `image_id`.
    fn image_masks<'py>(
        &self,
        py: Python<'py>,
        image_id: i64,
    ) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let (rles, h, w) = py
            .detach(|| self.rles_of_image(image_id))
            .map_err(|e| to_py(py, e))?;
        if let Some(i) = rles.iter().position(|r| (r.h, r.w) != (h, w)) {
            return Err(input_type(
                py,
                format!(
                    "image {image_id}: annotation #{i} has an RLE of size {}x{}, not the image's {h}x{w}",
                    rles[i].h, rles[i].w
                ),
            ));
        }
        masks_array(py, &rles, h, w, "image_masks")
    }

    /// `getAnnIds` on the columns: ids of the annotations of `rows` (or all), of a category in
    /// `categories`, with `lo < area < hi`, whose crowd flag matches `crowd`
    /// (wanted when crowd, wanted when not). `KeyError` / `IndexError` where pycocotools raises.
    #[pyo3(signature = (rows=None, categories=None, area=None, crowd=None))]
    fn select_annotations<'py>(
        &self,
        py: Python<'py>,
        rows: Option<Vec<usize>>,
        categories: Option<Vec<i64>>,
        area: Option<(f64, Option<f64>)>,
        crowd: Option<(bool, bool)>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let filter = AnnFilter {
            rows: rows.as_deref(),
            categories: categories.as_deref(),
            area,
            crowd,
        };
        match py.detach(|| self.inner.select_annotations(&filter)) {
            Ok(ids) => Ok(i64_array(py, ids)),
            Err(SelectError::MissingField(name)) => {
                Err(pyo3::exceptions::PyKeyError::new_err(name))
            }
            Err(SelectError::NoUpperBound) => Err(pyo3::exceptions::PyIndexError::new_err(
                "list index out of range",
            )),
        }
    }

    /// Bytes held by the index's columns and lookups.
    fn heap_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }
}

impl PyIndex {
    fn rles_of_image(&self, image_id: i64) -> cocors_core::Result<(Vec<Rle>, u64, u64)> {
        let (h, w) = self.inner.image_size(image_id)?;
        let rows = self.inner.image_rows(image_id);
        Ok((self.inner.rles(&rows, h, w)?, h, w))
    }
}

/// Annotations of `image_id` as numpy arrays, the per-image call of a data loader:
/// `(ann_ids, boxes (n x 4), category_ids, iscrowd, areas, flags)`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn image_targets<'py>(
    py: Python<'py>,
    index: &PyIndex,
    image_id: i64,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<f64>>,
)> {
    let idx = &index.inner;
    let rows = idx.image_rows(image_id);
    let ids = rows.iter().map(|&r| idx.annotations.ids.get(r)).collect();
    let boxes: Vec<f64> = rows.iter().flat_map(|&r| idx.ann.bbox.get(r)).collect();
    let cats = rows.iter().map(|&r| idx.ann.category_id.get(r)).collect();
    let crowd = rows
        .iter()
        .map(|&r| u8::from(idx.ann.flags[r] & flag::ISCROWD != 0))
        .collect();
    let areas = rows.iter().map(|&r| idx.ann.area[r]).collect();
    Ok((
        i64_array(py, ids),
        PyArray1::from_vec(py, boxes).reshape([rows.len(), 4])?,
        i64_array(py, cats),
        PyArray1::from_vec(py, crowd),
        PyArray1::from_vec(py, areas),
    ))
}
