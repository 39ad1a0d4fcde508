//! COCOeval in `cocors._cocors`: annotations to core columns (from the lazy index, or from
//! Python dicts for results and in-memory datasets), `evaluate` and `accumulate` without the
//! GIL, results back as numpy arrays. `cocors.cocoeval` builds pycocotools' API on top.

use std::collections::HashMap;
use std::sync::Arc;

use cocors_core::eval::{
    accumulate, from_index, from_results, AccumulateParams, Anns, EvalImg, Evaluation, Geometry,
    IouType, Keypoints, Params,
};
use cocors_core::index::json::Value;
use cocors_core::index::segm;
use cocors_core::Error;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

use crate::errors::{input_type, to_py};
use crate::index::PyIndex;

fn iou_type_of(py: Python<'_>, s: &str) -> PyResult<IouType> {
    match s {
        "bbox" => Ok(IouType::Bbox),
        "segm" => Ok(IouType::Segm),
        "keypoints" => Ok(IouType::Keypoints),
        _ => Err(input_type(
            py,
            format!("iouType must be 'segm', 'bbox' or 'keypoints', got {s:?}"),
        )),
    }
}

/// One side of an evaluation as core columns (built by `eval_anns_from_*`).
#[pyclass(frozen, module = "cocors._cocors", name = "EvalAnns")]
pub struct PyEvalAnns {
    inner: Anns,
}

#[pymethods]
impl PyEvalAnns {
    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

fn schema(record: String, field: &str, expected: &str) -> Error {
    Error::Schema {
        path: String::new(),
        record,
        field: field.into(),
        expected: expected.into(),
    }
}

/// A number as `np.array(..., dtype=float)` reads it (ints correctly rounded; numpy scalars).
fn number(v: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = v.cast::<PyFloat>() {
        return Some(f.value());
    }
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyBytes>() {
        return None;
    }
    v.extract::<f64>().ok()
}

/// An id: a Python or numpy integer, or a float holding an integer (which a Python dict key
/// lookup treats as that integer).
fn integer(v: &Bound<'_, PyAny>) -> Option<i64> {
    if v.is_instance_of::<PyInt>() {
        return v.extract::<i64>().ok();
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        return (x.fract() == 0.0 && x.abs() < 9.2e18).then_some(x as i64);
    }
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyBytes>() {
        return None;
    }
    v.extract::<i64>().ok()
}

/// A (possibly nested) Python value as the JSON value it stands for, for `segm::rle_of`.
fn to_value(v: &Bound<'_, PyAny>) -> Option<Value> {
    if let Ok(f) = v.cast::<PyFloat>() {
        return Some(Value::Float(f.value()));
    }
    if v.is_instance_of::<PyBool>() {
        return v.extract::<bool>().ok().map(Value::Bool);
    }
    if v.is_instance_of::<PyInt>() {
        return v.extract::<i64>().ok().map(Value::Int);
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s.to_cow().ok().map(|s| Value::Str(s.into_owned()));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return std::str::from_utf8(b.as_bytes())
            .ok()
            .map(|s| Value::Str(s.to_owned()));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut members = Vec::with_capacity(d.len());
        for (k, item) in d.iter() {
            members.push((to_value(&k)?, to_value(&item)?));
        }
        return Some(Value::Object(members));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l
            .iter()
            .map(|x| to_value(&x))
            .collect::<Option<_>>()
            .map(Value::Array);
    }
    if let Ok(i) = v.extract::<i64>() {
        return Some(Value::Int(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Some(Value::Float(f));
    }
    // Arrays and other sequences.
    let it = v.try_iter().ok()?;
    it.map(|x| x.ok().and_then(|x| to_value(&x)))
        .collect::<Option<_>>()
        .map(Value::Array)
}

fn numbers(v: &Bound<'_, PyAny>, out: &mut Vec<f64>) -> Option<()> {
    if let Ok(l) = v.cast::<PyList>() {
        for x in l.iter() {
            out.push(number(&x)?);
        }
        return Some(());
    }
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyDict>() {
        return None;
    }
    for x in v.try_iter().ok()? {
        out.push(number(&x.ok()?)?);
    }
    Some(())
}

/// Columns of annotation dicts (`loadAnns` of results or of an in-memory dataset), read as
/// pycocotools' `COCOeval` reads them. `imgs` (the COCO object's `imgs`) gives the image size
/// for polygon segmentations, as `annToRLE` takes it.
#[pyfunction]
#[pyo3(signature = (anns, iou_type, gt, imgs=None))]
pub fn eval_anns_from_dicts<'py>(
    py: Python<'py>,
    anns: &Bound<'py, PyList>,
    iou_type: &str,
    gt: bool,
    imgs: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyEvalAnns> {
    let kind = iou_type_of(py, iou_type)?;
    let mut out = Anns::empty(kind);
    let (mut boxes, mut area, mut score) = (Vec::new(), Vec::new(), Vec::new());
    let mut segms: Vec<(Value, u64, u64)> = Vec::new();
    let mut sizes: HashMap<i64, (u64, u64)> = HashMap::new();
    let mut kp = Keypoints::default();
    for (r, ann) in anns.iter().enumerate() {
        let err = |field: &str, expected: &str, id: Option<i64>| {
            let record = match id {
                Some(id) => format!("annotations[{r}] (id {id})"),
                None => format!("annotations[{r}]"),
            };
            to_py(py, schema(record, field, expected))
        };
        let d = ann
            .cast::<PyDict>()
            .map_err(|_| err("", "an annotation dict", None))?;
        let get = |key: &Bound<'py, PyString>| field(d, key);
        let id = get(intern!(py, "id"))
            .and_then(|v| integer(&v))
            .ok_or_else(|| err("id", "an integer id", None))?;
        let int_field = |key: &Bound<'py, PyString>, name: &str| {
            get(key)
                .and_then(|v| integer(&v))
                .ok_or_else(|| err(name, "an integer", Some(id)))
        };
        let num_field = |key: &Bound<'py, PyString>, name: &str| {
            get(key)
                .and_then(|v| number(&v))
                .ok_or_else(|| err(name, "a number", Some(id)))
        };
        let image_id = int_field(intern!(py, "image_id"), "image_id")?;
        out.id.push(id);
        out.image_id.push(image_id);
        out.category_id
            .push(int_field(intern!(py, "category_id"), "category_id")?);
        area.push(num_field(intern!(py, "area"), "area")?);
        if gt {
            // `_prepare`: ignore = 'iscrowd' in gt and gt['iscrowd']; the IoU and matching
            // crowd rule reads int(iscrowd).
            let c =
                get(intern!(py, "iscrowd")).ok_or_else(|| err("iscrowd", "0 or 1", Some(id)))?;
            let truthy = c.is_truthy()?;
            let crowd = match integer(&c) {
                Some(i) => i != 0,
                None => number(&c)
                    .map(|f| f.trunc() != 0.0)
                    .ok_or_else(|| err("iscrowd", "0 or 1", Some(id)))?,
            };
            let mut ignore = truthy;
            if kind == IouType::Keypoints {
                let n = get(intern!(py, "num_keypoints"))
                    .ok_or_else(|| err("num_keypoints", "a number", Some(id)))?;
                ignore = n.eq(0)? || ignore;
            }
            out.crowd.push(crowd);
            out.ignore.push(ignore);
        } else {
            score.push(num_field(intern!(py, "score"), "score")?);
        }
        let bbox = |what: &str| -> PyResult<[f64; 4]> {
            let mut v = Vec::with_capacity(4);
            get(intern!(py, "bbox"))
                .and_then(|b| numbers(&b, &mut v))
                .filter(|_| v.len() == 4)
                .ok_or_else(|| err("bbox", what, Some(id)))?;
            Ok([v[0], v[1], v[2], v[3]])
        };
        match kind {
            IouType::Bbox => boxes.push(bbox("[x, y, width, height]")?),
            IouType::Keypoints => {
                if gt {
                    boxes.push(bbox("[x, y, width, height] (OKS of unlabelled keypoints)")?);
                }
                let values = get(intern!(py, "keypoints"));
                kp.push_with(|buf| values.and_then(|k| numbers(&k, buf)))
                    .ok_or_else(|| err("keypoints", "a list of x, y, v numbers", Some(id)))?;
            }
            IouType::Segm => {
                let seg = get(intern!(py, "segmentation"))
                    .ok_or_else(|| err("segmentation", "polygons or an RLE", Some(id)))?;
                let value = to_value(&seg)
                    .ok_or_else(|| err("segmentation", "polygons or an RLE", Some(id)))?;
                let (h, w) = if matches!(value, Value::Array(_)) {
                    match sizes.get(&image_id) {
                        Some(&s) => s,
                        None => {
                            let s = image_size(imgs, image_id).ok_or_else(|| {
                                err("image_id", "an image with height and width", Some(id))
                            })?;
                            sizes.insert(image_id, s);
                            s
                        }
                    }
                } else {
                    (0, 0)
                };
                segms.push((value, h, w));
            }
        }
    }
    out.area = Arc::new(area);
    out.score = Arc::new(score);
    match kind {
        IouType::Bbox => out.geometry = Geometry::Boxes(Arc::new(boxes)),
        IouType::Keypoints => out.geometry = Geometry::Keypoints(kp.into(), boxes),
        IouType::Segm => {
            let ids = &out.id;
            let rles = py
                .detach(|| segm::rles_of(&segms, |r| format!("annotations[{r}] (id {})", ids[r])))
                .map_err(|e| to_py(py, e))?;
            out.geometry = Geometry::Masks(rles.into());
        }
    }
    Ok(PyEvalAnns { inner: out })
}

fn field<'py>(d: &Bound<'py, PyDict>, key: &Bound<'py, PyString>) -> Option<Bound<'py, PyAny>> {
    d.get_item(key).ok().flatten()
}

/// `imgs[image_id]['height']`, `['width']`.
fn image_size(imgs: Option<&Bound<'_, PyAny>>, image_id: i64) -> Option<(u64, u64)> {
    let img = imgs?.get_item(image_id).ok()?;
    let h = img.get_item("height").ok()?.extract::<u64>().ok()?;
    let w = img.get_item("width").ok()?.extract::<u64>().ok()?;
    Some((h, w))
}

/// Columns of annotation `rows` of an indexed file, straight from the index's columns (and,
/// for masks and keypoints, from the records' bytes).
#[pyfunction]
pub fn eval_anns_from_index(
    py: Python<'_>,
    index: &PyIndex,
    rows: PyReadonlyArray1<'_, i64>,
    iou_type: &str,
) -> PyResult<PyEvalAnns> {
    let kind = iou_type_of(py, iou_type)?;
    let idx = index.inner.clone();
    let n = idx.annotations.len();
    let rows: Vec<usize> = rows
        .as_array()
        .iter()
        .map(|&r| usize::try_from(r).ok().filter(|&r| r < n))
        .collect::<Option<_>>()
        .ok_or_else(|| input_type(py, "rows outside the annotations".into()))?;
    let result = py.detach(|| from_index(&idx, &rows, kind));
    Ok(PyEvalAnns {
        inner: result.map_err(|e| to_py(py, e))?,
    })
}

/// Detections of a results file (`Index.open_results`) as `loadRes` + `loadAnns` give them to
/// `_prepare`. Polygons (and the box polygons of the bbox branch) are rasterised at the size of
/// their image in `gt` (the ground truth's index) or, without one, in `imgs` (its `imgs`).
#[pyfunction]
#[pyo3(signature = (results, iou_type, gt=None, imgs=None))]
pub fn eval_anns_from_results(
    py: Python<'_>,
    results: &PyIndex,
    iou_type: &str,
    gt: Option<&PyIndex>,
    imgs: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyEvalAnns> {
    let kind = iou_type_of(py, iou_type)?;
    let idx = results.inner.clone();
    let gt = gt.map(|g| g.inner.clone());
    // Without an index, the sizes of the results' images are looked up once, here.
    let mut sizes: HashMap<i64, (u64, u64)> = HashMap::new();
    if gt.is_none() && kind == IouType::Segm {
        for image in idx.by_image.keys.to_vec() {
            if let Some(s) = image_size(imgs, image) {
                sizes.insert(image, s);
            }
        }
    }
    let size = |image: i64| -> cocors_core::Result<(u64, u64)> {
        match &gt {
            Some(g) => g.image_size(image),
            None => sizes.get(&image).copied().ok_or_else(|| {
                schema(
                    format!("image id {image}"),
                    "",
                    "an image with height and width in the ground truth",
                )
            }),
        }
    };
    let result = py.detach(|| from_results(&idx, kind, size));
    Ok(PyEvalAnns {
        inner: result.map_err(|e| to_py(py, e))?,
    })
}

/// The result of `evaluate`, kept in Rust; `cocors.cocoeval` reads it.
#[pyclass(frozen, module = "cocors._cocors", name = "Evaluation")]
pub struct PyEvaluation {
    inner: Evaluation,
    /// The columns evaluated (evalImgs are recomputed from them on request).
    gt: Py<PyEvalAnns>,
    dt: Py<PyEvalAnns>,
    /// `np.exp`, for OKS computed after the evaluation (see `ious`).
    np_exp: Py<PyAny>,
}

/// `COCOeval.evaluate()` on the columns of both sides: IoU or OKS per (category, image) and
/// the matching at every area range, without the GIL (numpy's `exp` is called back with it
/// for OKS, to be exact on every CPU: from the pool's threads at once, numpy releasing the
/// GIL inside the ufunc).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    py: Python<'_>,
    gt: Bound<'_, PyEvalAnns>,
    dt: Bound<'_, PyEvalAnns>,
    iou_type: &str,
    img_ids: Vec<i64>,
    cat_ids: Vec<i64>,
    use_cats: bool,
    iou_thrs: Vec<f64>,
    area_rng: Vec<(f64, f64)>,
    max_det: usize,
    kpt_oks_sigmas: Vec<f64>,
    np_exp: &Bound<'_, PyAny>,
) -> PyResult<PyEvaluation> {
    let params = Params {
        iou_type: iou_type_of(py, iou_type)?,
        img_ids,
        cat_ids,
        use_cats,
        iou_thrs,
        area_rng: area_rng.into_iter().map(|(a, b)| [a, b]).collect(),
        max_det,
        kpt_oks_sigmas,
    };
    let np_exp = np_exp.clone().unbind();
    let (g, d) = (&gt.get().inner, &dt.get().inner);
    let inner = py
        .detach(|| Evaluation::new(params, g, d, &numpy_exp(&np_exp)))
        .map_err(|e| to_py(py, e))?;
    Ok(PyEvaluation {
        inner,
        gt: gt.unbind(),
        dt: dt.unbind(),
        np_exp,
    })
}

/// `np.exp` in place over a buffer, a cache-sized piece at a time through one reused array
/// (one numpy array the size of the whole buffer costs two cold copies and its pages; the
/// pieces stay in cache). Element-wise, so the pieces give the same values.
fn numpy_exp(np_exp: &Py<PyAny>) -> impl Fn(&mut [f64]) -> cocors_core::Result<()> + Sync + '_ {
    move |buf: &mut [f64]| -> cocors_core::Result<()> {
        const PIECE: usize = 1 << 15;
        if buf.is_empty() {
            return Ok(());
        }
        Python::attach(|py| -> PyResult<()> {
            let full = PIECE.min(buf.len());
            let arr = PyArray1::<f64>::zeros(py, full, false);
            let f = np_exp.bind(py);
            for piece in buf.chunks_mut(PIECE) {
                let view = if piece.len() == full {
                    arr.clone()
                } else {
                    PyArray1::<f64>::zeros(py, piece.len(), false)
                };
                view.readwrite().as_slice_mut()?.copy_from_slice(piece);
                f.call1((&view, &view))?;
                piece.copy_from_slice(view.readonly().as_slice()?);
            }
            Ok(())
        })
        .map_err(|e| Error::Eval(format!("np.exp failed: {e}")))
    }
}

/// (D, G, the D x G values flat).
type PyCellIous<'py> = (usize, usize, Bound<'py, PyArray1<f64>>);

type EvalImgParts<'py> = (
    Vec<i64>,
    Vec<i64>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Vec<f64>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<bool>>,
);

#[pymethods]
impl PyEvaluation {
    /// `accumulate(p)`: `(precision, recall, scores)` as flat C-order float64 arrays of
    /// `dims` = (T, R, K, A, M) (recall without R).
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn accumulate<'py>(
        &self,
        py: Python<'py>,
        k_list: Vec<usize>,
        a_list: Vec<usize>,
        m_list: Vec<usize>,
        i_list: Vec<usize>,
        rec_thrs: Vec<f64>,
        dims: (usize, usize, usize, usize, usize),
    ) -> PyResult<(
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
    )> {
        let p = AccumulateParams {
            k_list,
            a_list,
            m_list,
            i_list,
            rec_thrs,
            dims: [dims.0, dims.1, dims.2, dims.3, dims.4],
        };
        let acc = py
            .detach(|| accumulate(&self.inner, &p))
            .map_err(|e| to_py(py, e))?;
        Ok((
            PyArray1::from_vec(py, acc.precision),
            PyArray1::from_vec(py, acc.recall),
            PyArray1::from_vec(py, acc.scores),
        ))
    }

    /// (category position, image position) of every cell with ground truth or detections.
    fn cells(&self) -> Vec<(usize, usize)> {
        (0..self.inner.cell_count())
            .map(|c| self.inner.cell_key(c))
            .collect()
    }

    /// The cell at (category position, image position), or None.
    fn find_cell(&self, k: usize, i: usize) -> Option<usize> {
        self.inner.find_cell(k, i)
    }

    /// IoU matrix of cell `c` as a flat Fortran-order (D x G) array, or None where
    /// pycocotools has `[]`.
    fn ious<'py>(&self, py: Python<'py>, c: usize) -> PyResult<Option<PyCellIous<'py>>> {
        let (gt, dt) = (&self.gt.get().inner, &self.dt.get().inner);
        let got = self
            .inner
            .ious(c, gt, dt, &numpy_exp(&self.np_exp))
            .map_err(|e| to_py(py, e))?;
        Ok(got.map(|(d, g, v)| (d, g, PyArray1::from_slice(py, &v))))
    }

    /// `evaluateImg` of cell `c` at area range `a`: `(dtIds, gtIds, dtMatches, gtMatches,
    /// dtScores, gtIgnore, dtIgnore)`, matrices flat row-major (T x D, T x G).
    fn eval_img<'py>(&self, py: Python<'py>, c: usize, a: usize) -> EvalImgParts<'py> {
        let (gt, dt) = (&self.gt.get().inner, &self.dt.get().inner);
        let e: EvalImg = self.inner.eval_img(c, a, gt, dt);
        let dt_rows = self.inner.cell_dt(c);
        let gt_rows = self.inner.cell_gt(c);
        let dt_ids = dt_rows.iter().map(|&r| dt.id[r as usize]).collect();
        let gt_ids = e
            .gt_order
            .iter()
            .map(|&j| gt.id[gt_rows[j as usize] as usize])
            .collect();
        // pycocotools stores the matched ids in float64 arrays.
        let f = |v: &[i64]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        (
            dt_ids,
            gt_ids,
            PyArray1::from_vec(py, f(&e.dt_matches)),
            PyArray1::from_vec(py, f(&e.gt_matches)),
            self.inner.cell_scores(c).to_vec(),
            PyArray1::from_vec(py, e.gt_ignore.iter().map(|&b| i64::from(b)).collect()),
            PyArray1::from_slice(py, &e.dt_ignore),
        )
    }
}
