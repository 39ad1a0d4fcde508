//! The Mask API functions of `cocors._cocors`: convert, release the GIL around the core's batch
//! work, convert back. `cocors.mask` (Python) does the pycocotools-style argument dispatch.

use std::sync::{Mutex, PoisonError};

use cocors_core::rle::{batch, codec, Packed, Rle};
use numpy::{
    PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::convert::{
    coordinates, for_rle_blocks, held_rles, made_rle_dicts, rle_dict, rle_dicts, runs_of,
    size_value, without_gc, HeldRle,
};
use crate::errors::{input_type, to_py, value};

/// Parses held RLE dicts into core RLEs without the GIL. `list` names the list in errors
/// (`dt[3]: ...`) where a call takes two; empty gives `item 3: ...`.
fn parse(py: Python<'_>, held: &[HeldRle<'_>], list: &'static str) -> PyResult<Vec<Rle>> {
    let inputs: Vec<_> = held.iter().map(HeldRle::input).collect();
    py.detach(|| batch::parse(&inputs))
        .map_err(|e| to_py(py, e.in_list(list)))
}

fn parse_objs(objs: &Bound<'_, PyAny>) -> PyResult<Vec<Rle>> {
    let held = held_rles(objs)?;
    parse(objs.py(), &held, "")
}

/// RLE dicts of `rles`, their strings encoded without the GIL.
fn to_dicts<'py>(py: Python<'py>, rles: &[Rle]) -> PyResult<Bound<'py, PyList>> {
    let strings = py.detach(|| batch::to_strings(rles));
    rle_dicts(py, rles, &strings)
}

fn boxes_of(arr: &PyReadonlyArray2<'_, f64>, what: &str) -> PyResult<Vec<[f64; 4]>> {
    let py = arr.py();
    let shape = arr.shape();
    if shape[1] != 4 {
        return Err(input_type(
            py,
            format!("{what} must be an N x 4 array of boxes, got shape {shape:?}"),
        ));
    }
    let view = arr.as_array();
    Ok(view
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3]])
        .collect())
}

/// Encodes a Fortran-ordered `(h, w, n)` uint8 array into `n` RLE dicts.
#[pyfunction]
pub fn encode<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray3<'py, u8>,
) -> PyResult<Bound<'py, PyList>> {
    if !mask.is_fortran_contiguous() {
        return Err(input_type(
            py,
            "encode: the mask array must be Fortran-contiguous".to_owned(),
        ));
    }
    let (h, w, n) = (mask.shape()[0], mask.shape()[1], mask.shape()[2]);
    let pixels = mask
        .as_slice()
        .map_err(|e| input_type(py, format!("encode: {e}")))?;
    made_rle_dicts(py, || batch::encode(pixels, h as u64, w as u64, n))
}

/// Decodes a non-empty list of RLEs into a Fortran-ordered `(h, w, n)` uint8 array sized by the
/// first RLE.
#[pyfunction]
pub fn decode<'py>(
    py: Python<'py>,
    rles: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let rles = parse_objs(rles)?;
    let Some(first) = rles.first() else {
        return Err(input_type(
            py,
            "decode: got an empty list of RLEs, which has no size to decode to".to_owned(),
        ));
    };
    cocors_core::rle::check_size(first.h, first.w).map_err(|e| to_py(py, e))?;
    masks_array(py, &rles, first.h, first.w, "decode")
}

/// The `(h, w, n)` Fortran-ordered uint8 masks of `rles` (each must cover `h*w` pixels),
/// decoded without the GIL into zeroed (calloc'd) memory: only foreground runs are written, so
/// background pages stay untouched.
pub fn masks_array<'py>(
    py: Python<'py>,
    rles: &[Rle],
    h: u64,
    w: u64,
    what: &str,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let out = PyArray3::<u8>::zeros(py, [h as usize, w as usize, rles.len()], true);
    if rles.is_empty() {
        return Ok(out);
    }
    {
        let mut rw = out
            .try_readwrite()
            .map_err(|e| input_type(py, format!("{what}: {e}")))?;
        let buf = rw
            .as_slice_mut()
            .map_err(|e| input_type(py, format!("{what}: {e}")))?;
        py.detach(|| batch::decode_into(rles, buf, true))
            .map_err(|e| to_py(py, e))?;
    }
    Ok(out)
}

/// Union (or intersection) of a list of RLEs, as one RLE dict.
#[pyfunction]
#[pyo3(signature = (rles, intersect = false))]
pub fn merge<'py>(
    py: Python<'py>,
    rles: &Bound<'py, PyAny>,
    intersect: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let held = held_rles(rles)?;
    let inputs: Vec<_> = held.iter().map(HeldRle::input).collect();
    let (merged, s) = py
        .detach(|| {
            let merged = batch::merge_inputs(&inputs, intersect)?;
            let s = merged.counts_string();
            Ok((merged, s))
        })
        .map_err(|e| to_py(py, e))?;
    rle_dict(py, merged.h, merged.w, &s)
}

/// Areas of a list of RLEs, uint32.
#[pyfunction]
pub fn area<'py>(py: Python<'py>, rles: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let Ok(list) = rles.cast::<PyList>() else {
        let held = held_rles(rles)?;
        let inputs: Vec<_> = held.iter().map(HeldRle::input).collect();
        let areas = py
            .detach(|| batch::areas_of_inputs(&inputs))
            .map_err(|e| to_py(py, e))?;
        return Ok(PyArray1::from_vec(py, areas));
    };
    let out = PyArray1::<u32>::zeros(py, list.len(), false);
    {
        let mut rw = out
            .try_readwrite()
            .map_err(|e| input_type(py, format!("area: {e}")))?;
        let buf = rw
            .as_slice_mut()
            .map_err(|e| input_type(py, format!("area: {e}")))?;
        for_rle_blocks(list, |inputs, start| {
            // The list can change under us (a size's __index__ may run any code).
            let Some(slots) = buf.get_mut(start..start + inputs.len()) else {
                return Err(input_type(
                    py,
                    "area: the list changed while it was read".to_owned(),
                ));
            };
            py.detach(|| batch::areas_of_inputs_into(inputs, slots))
                .map_err(|e| to_py(py, e.after_items(start)))
        })?;
    }
    Ok(out)
}

/// Bounding boxes `[x, y, w, h]` of a list of RLEs, an `(n, 4)` float64 array.
#[pyfunction]
pub fn to_bbox<'py>(
    py: Python<'py>,
    rles: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let Ok(list) = rles.cast::<PyList>() else {
        let held = held_rles(rles)?;
        let inputs: Vec<_> = held.iter().map(HeldRle::input).collect();
        let boxes = py
            .detach(|| batch::bboxes_of_inputs(&inputs))
            .map_err(|e| to_py(py, e))?;
        let flat: Vec<f64> = boxes.iter().flatten().copied().collect();
        return PyArray1::from_vec(py, flat).reshape([boxes.len(), 4]);
    };
    let out = PyArray2::<f64>::zeros(py, [list.len(), 4], false);
    {
        let mut rw = out
            .try_readwrite()
            .map_err(|e| input_type(py, format!("toBbox: {e}")))?;
        let buf = rw
            .as_slice_mut()
            .map_err(|e| input_type(py, format!("toBbox: {e}")))?;
        for_rle_blocks(list, |inputs, start| {
            let Some(slots) = buf.get_mut(4 * start..4 * (start + inputs.len())) else {
                return Err(input_type(
                    py,
                    "toBbox: the list changed while it was read".to_owned(),
                ));
            };
            py.detach(|| batch::bboxes_of_inputs_into(inputs, slots))
                .map_err(|e| to_py(py, e.after_items(start)))
        })?;
    }
    Ok(out)
}

fn crowd_flags(iscrowd: &PyReadonlyArray1<'_, u8>) -> PyResult<Vec<bool>> {
    let flags = iscrowd.as_array();
    Ok(flags.iter().map(|&c| c != 0).collect())
}

/// IoU matrix `(m, n)` (Fortran order) of two lists of RLEs, pycocotools' `rleIou`.
#[pyfunction]
pub fn iou_rles<'py>(
    py: Python<'py>,
    dt: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
    iscrowd: PyReadonlyArray1<'py, u8>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (dt, gt) = (held_rles(dt)?, held_rles(gt)?);
    let dt = parse(py, &dt, "dt")?;
    let gt = parse(py, &gt, "gt")?;
    let crowd = crowd_flags(&iscrowd)?;
    let out = PyArray2::<f64>::zeros(py, [dt.len(), gt.len()], true);
    {
        let mut rw = out
            .try_readwrite()
            .map_err(|e| input_type(py, format!("iou: {e}")))?;
        let buf = rw
            .as_slice_mut()
            .map_err(|e| input_type(py, format!("iou: {e}")))?;
        py.detach(|| batch::iou_rles(&dt, &gt, &crowd, buf))
            .map_err(|e| to_py(py, e))?;
    }
    Ok(out)
}

/// IoU of two `N x 4` float64 box arrays (pycocotools' `bbIou`) written into `out`, an
/// `(m, n)` Fortran-ordered float64 array. Every entry is written, so the caller passes
/// `np.empty`: a zeroed array would cost a serial pass over memory before the parallel one
/// (0.3 ms of the 1.3 ms a 1000 x 1000 matrix takes on one thread).
#[pyfunction]
pub fn iou_boxes<'py>(
    py: Python<'py>,
    dt: PyReadonlyArray2<'py, f64>,
    gt: PyReadonlyArray2<'py, f64>,
    iscrowd: PyReadonlyArray1<'py, u8>,
    out: &Bound<'py, PyArray2<f64>>,
) -> PyResult<()> {
    let dt = boxes_of(&dt, "dt")?;
    let gt = boxes_of(&gt, "gt")?;
    let crowd = crowd_flags(&iscrowd)?;
    let mut rw = out
        .try_readwrite()
        .map_err(|e| input_type(py, format!("iou: {e}")))?;
    if rw.shape() != [dt.len(), gt.len()] || !rw.is_fortran_contiguous() {
        let shape: Vec<String> = rw.shape().iter().map(usize::to_string).collect();
        return Err(input_type(
            py,
            format!(
                "iou: out must be a Fortran-ordered {} x {} array, got shape ({}){}",
                dt.len(),
                gt.len(),
                shape.join(", "),
                if rw.is_fortran_contiguous() {
                    ""
                } else {
                    " not in Fortran order"
                }
            ),
        ));
    }
    let buf = rw
        .as_slice_mut()
        .map_err(|e| input_type(py, format!("iou: {e}")))?;
    py.detach(|| batch::iou_boxes(&dt, &gt, &crowd, buf));
    Ok(())
}

/// RLE dicts of an `N x 4` float64 array of boxes `[x, y, w, h]` (pycocotools' `frBbox`).
#[pyfunction]
pub fn fr_bbox<'py>(
    py: Python<'py>,
    bb: PyReadonlyArray2<'py, f64>,
    h: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let (h, w) = (size_value(h, "h")?, size_value(w, "w")?);
    let boxes = boxes_of(&bb, "bb")?;
    let rles = py
        .detach(|| batch::from_bboxes(&boxes, h, w))
        .map_err(|e| to_py(py, e))?;
    to_dicts(py, &rles)
}

/// Polygons per block of [`fr_poly`]'s pipeline: about four blocks a thread, so that the
/// threads finish together, but at least [`FEW_POLYGONS`] (handing a block over costs some
/// microseconds) and at most 256 (the pool then starts early: 10k polygons make 40 blocks of
/// about 2 ms).
fn polygon_block(polygons: usize) -> usize {
    let threads = cocors_core::parallel::num_threads();
    polygons.div_ceil(4 * threads).clamp(FEW_POLYGONS, 256)
}

/// Polygons rasterised without releasing the GIL (some 10 us each).
const FEW_POLYGONS: usize = 8;

/// One block of polygons for the pool: coordinates converted under the GIL, all in one buffer
/// split at `ends`.
struct PolygonBlock {
    first: usize,
    flat: Vec<f64>,
    ends: Vec<usize>,
}

/// RLE dicts of a list of flat polygons (pycocotools' `frPoly`), the first error in list
/// order raised.
///
/// A pipeline (`parallel::pipeline`): this thread converts block after block of polygons,
/// taking the GIL for each, while the pool rasterises and encodes the blocks already
/// converted; then it builds the dicts block by block in order, rasterising queued blocks
/// itself while the next one is not back. Converting and building dicts are a fifth of the
/// work and need the GIL, so overlapping them with the parallel part is what lets two threads
/// come near twice the speed of one.
#[pyfunction]
pub fn fr_poly<'py>(
    py: Python<'py>,
    polygons: &Bound<'py, PyAny>,
    h: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let (h, w) = (size_value(h, "h")?, size_value(w, "w")?);
    cocors_core::rle::check_size(h, w).map_err(|e| to_py(py, e))?;
    let items: Vec<Py<PyAny>> = match polygons.cast::<PyList>() {
        Ok(list) => list.iter().map(Bound::unbind).collect(),
        Err(_) => polygons
            .try_iter()?
            .map(|p| p.map(Bound::unbind))
            .collect::<PyResult<_>>()?,
    };
    let out = PyList::empty(py).unbind();
    let size = polygon_block(items.len());
    // A conversion error ends production in its block; the polygons before it are still
    // rasterised (an error among them comes first), then `consume` raises it. It stays on
    // this thread: no Python object goes to the pool.
    // (A mutex only because the closures cross `py.detach`; both run on this thread.)
    let conversion_error: Mutex<Option<(usize, PyErr)>> = Mutex::new(None);
    let error_slot = || {
        conversion_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    let take_error = |b: usize| {
        let mut slot = error_slot();
        match slot.take() {
            Some((at, e)) if at == b => Some(e),
            other => {
                *slot = other;
                None
            }
        }
    };
    let produce = |b: usize| {
        if error_slot().is_some() {
            // The batch ends with the block that had the error.
            return None;
        }
        let first = b * size;
        let block = items.get(first..items.len().min(first + size))?;
        Python::attach(|py| {
            let mut converted = PolygonBlock {
                first,
                flat: Vec::new(),
                ends: Vec::with_capacity(block.len()),
            };
            for (i, p) in block.iter().enumerate() {
                if let Err(e) = coordinates(p.bind(py), first + i, &mut converted.flat) {
                    *error_slot() = Some((b, e));
                    break;
                }
                converted.ends.push(converted.flat.len());
            }
            Some(converted)
        })
    };
    let work = |block: PolygonBlock| {
        let mut start = 0;
        let slices: Vec<&[f64]> = block
            .ends
            .iter()
            .map(|&end| {
                let s = &block.flat[start..end];
                start = end;
                s
            })
            .collect();
        batch::polygon_strings(&slices, block.first, h, w)
    };
    let consume = |b: usize, strings: cocors_core::Result<Packed>| {
        Python::attach(|py| {
            let strings = strings.map_err(|e| to_py(py, e))?;
            if let Some(e) = take_error(b) {
                return Err(e);
            }
            let out = out.bind(py);
            without_gc(py, || {
                strings
                    .strings()
                    .try_for_each(|(h, w, s)| out.append(rle_dict(py, h, w, s)?))
            })
        })
    };
    let blocks = items.len().div_ceil(size);
    let run = || cocors_core::parallel::pipeline(blocks, produce, work, consume);
    // A few polygons (annToRLE converts one to three a call) are rasterised with the GIL held:
    // taking it back for the dicts would cost more than other threads gain in that time.
    if items.len() > FEW_POLYGONS {
        py.detach(run)?;
    } else {
        run()?;
    }
    Ok(out.into_bound(py))
}

/// Compressed RLE dicts of a list of RLE dicts (uncompressed or compressed counts). The size is
/// each dict's own `size`, as in pycocotools.
#[pyfunction]
pub fn fr_uncompressed<'py>(
    py: Python<'py>,
    rles: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let rles = parse_objs(rles)?;
    to_dicts(py, &rles)
}

/// The compact counts string of a sequence of run lengths.
#[pyfunction]
pub fn counts_to_string<'py>(
    py: Python<'py>,
    counts: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let runs = runs_of(counts)?;
    Ok(PyBytes::new(py, &codec::encode_counts(&runs)))
}

/// The run lengths of a compact counts string (bytes or str), a uint32 array.
#[pyfunction]
pub fn counts_from_string<'py>(
    py: Python<'py>,
    s: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let bytes = if let Ok(b) = s.cast::<PyBytes>() {
        b.clone()
    } else if let Ok(st) = s.cast::<PyString>() {
        st.encode_utf8()?
    } else {
        return Err(input_type(
            py,
            "counts string must be bytes or str".to_owned(),
        ));
    };
    let counts = codec::decode_counts(bytes.as_bytes()).map_err(|e| to_py(py, e))?;
    Ok(PyArray1::from_vec(py, counts))
}

/// Sets the number of worker threads (0: the default, `COCORS_NUM_THREADS` or the CPU count).
#[pyfunction]
pub fn set_num_threads(py: Python<'_>, n: i64) -> PyResult<()> {
    let n = usize::try_from(n)
        .map_err(|_| value(py, format!("set_num_threads: n must be >= 0, got {n}")))?;
    cocors_core::parallel::set_num_threads(n);
    Ok(())
}

/// The number of worker threads parallel calls use.
#[pyfunction]
pub fn get_num_threads() -> usize {
    cocors_core::parallel::num_threads()
}
