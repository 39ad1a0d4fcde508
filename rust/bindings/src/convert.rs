//! Python objects to core inputs and core results to Python objects. Conversion only: every
//! rule about what the numbers mean lives in `cocors-core`.

use cocors_core::index::json::Value;
use cocors_core::rle::batch::RleInput;
use cocors_core::rle::Rle;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

use crate::errors::{input_type, rle_value, to_py};

/// Where the run lengths of one input RLE are held while the core reads them.
pub enum Counts<'py> {
    /// Compressed counts, borrowed from a `bytes` object (a `str` is encoded to UTF-8 first, as
    /// pycocotools does).
    String(Bound<'py, PyBytes>),
    /// Uncompressed counts (a list of run lengths).
    Runs(Vec<u32>),
}

/// One RLE dict, held so that borrowed [`RleInput`]s can be handed to the core without the GIL.
pub struct HeldRle<'py> {
    pub h: u64,
    pub w: u64,
    pub counts: Counts<'py>,
}

impl HeldRle<'_> {
    pub fn input(&self) -> RleInput<'_> {
        match &self.counts {
            Counts::String(b) => RleInput::Compressed {
                h: self.h,
                w: self.w,
                counts: b.as_bytes(),
            },
            Counts::Runs(r) => RleInput::Uncompressed {
                h: self.h,
                w: self.w,
                counts: r,
            },
        }
    }
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// A non-negative size value (Python or numpy integer).
pub fn size_value(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    let py = obj.py();
    // Fast path: a plain Python int. (A bool is an int too, and pycocotools takes it as 0/1.)
    if obj.is_exact_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<u64>() {
            return Ok(v);
        }
    }
    if obj.is_instance_of::<PyFloat>() {
        return Err(input_type(
            py,
            format!("{what} must be an integer, not {}", describe(obj)),
        ));
    }
    let Ok(index) = obj.call_method0(intern!(py, "__index__")) else {
        return Err(input_type(
            py,
            format!("{what} must be an integer, not {}", describe(obj)),
        ));
    };
    index.extract::<u64>().map_err(|_| {
        rle_value(
            py,
            format!("{what} must be a non-negative integer below 2^64, got {index}"),
        )
    })
}

/// One run length of an uncompressed RLE, converted as `np.array(counts, dtype=np.uint32)` does
/// for in-range values (floats truncate toward zero); out-of-range values are errors.
fn run_value(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    let py = obj.py();
    if let Ok(v) = obj.extract::<u32>() {
        return Ok(v);
    }
    if let Ok(f) = obj.extract::<f64>() {
        let t = f.trunc();
        if t.is_finite() && (0.0..4_294_967_296.0).contains(&t) {
            return Ok(t as u32);
        }
    }
    Err(rle_value(
        py,
        format!("uncompressed RLE run length {obj} is not an integer in 0..2^32"),
    ))
}

/// Run lengths of an uncompressed RLE (any sequence of numbers).
pub fn runs_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|v| run_value(&v)).collect();
    }
    obj.try_iter()?.map(|v| run_value(&v?)).collect()
}

/// Prefixes an error message with the RLE's index (errors are rare: formatting is deferred).
fn at_rle(py: Python<'_>, err: PyErr, index: usize) -> PyErr {
    let msg = format!("RLE #{index}: {}", err.value(py));
    if err.is_instance_of::<pyo3::exceptions::PyTypeError>(py) {
        input_type(py, msg)
    } else {
        rle_value(py, msg)
    }
}

/// Reads `obj['size']` and `obj['counts']` of one RLE dict (item `index` of its list).
pub fn held_rle<'py>(obj: &Bound<'py, PyAny>, index: usize) -> PyResult<HeldRle<'py>> {
    let py = obj.py();
    let get = |key: &Bound<'py, PyString>| -> PyResult<Bound<'py, PyAny>> {
        let found = match obj.cast::<PyDict>() {
            Ok(d) => d.get_item(key)?,
            Err(_) => obj.get_item(key).ok(),
        };
        found.ok_or_else(|| {
            input_type(
                py,
                format!(
                    "RLE #{index} must be a dict with 'size' and 'counts', got {} without '{key}'",
                    describe(obj)
                ),
            )
        })
    };
    let size = get(intern!(py, "size"))?;
    let counts = get(intern!(py, "counts"))?;
    let bad_size = || {
        input_type(
            py,
            format!("RLE #{index}: 'size' must be [height, width], got {size}"),
        )
    };
    let (hv, wv) = match size.cast::<PyList>() {
        // Fast path: the list COCO files and pycocotools use.
        Ok(list) if list.len() == 2 => (list.get_item(0)?, list.get_item(1)?),
        Ok(_) => return Err(bad_size()),
        Err(_) => {
            let dims: Vec<Bound<'py, PyAny>> = match size.try_iter() {
                Ok(it) => it.collect::<PyResult<_>>().map_err(|_| bad_size())?,
                Err(_) => return Err(bad_size()),
            };
            match <[Bound<'py, PyAny>; 2]>::try_from(dims) {
                Ok([h, w]) => (h, w),
                Err(_) => return Err(bad_size()),
            }
        }
    };
    let h = size_value(&hv, "height").map_err(|e| at_rle(py, e, index))?;
    let w = size_value(&wv, "width").map_err(|e| at_rle(py, e, index))?;
    let counts = if let Ok(b) = counts.cast::<PyBytes>() {
        Counts::String(b.clone())
    } else if let Ok(s) = counts.cast::<PyString>() {
        Counts::String(s.encode_utf8()?)
    } else if counts.is_instance_of::<PyInt>() || counts.is_instance_of::<PyFloat>() {
        return Err(input_type(
            py,
            format!(
                "RLE #{index}: 'counts' must be bytes, str or a list of run lengths, got {}",
                describe(&counts)
            ),
        ));
    } else {
        Counts::Runs(runs_of(&counts).map_err(|e| {
            if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) && !e.is_instance_of::<pyo3::exceptions::PyValueError>(py) {
                input_type(py, format!("RLE #{index}: 'counts' must be bytes, str or a list of run lengths, got {}", describe(&counts)))
            } else {
                e
            }
        })?)
    };
    Ok(HeldRle { h, w, counts })
}

/// Items converted per block by [`for_rle_blocks`]: the block's held RLEs stay small enough to be
/// reused from the allocator's cache (one vector for a whole list of many thousands is fresh
/// memory, paid for in page faults on every call), and the core's work on a block is still
/// long enough to spread over the pool.
const RLE_BLOCK: usize = 2048;

/// Calls `f(inputs, start)` on the RLE dicts of `list` in blocks, `start` being the index of
/// the block's first item.
pub fn for_rle_blocks<'py>(
    list: &Bound<'py, PyList>,
    mut f: impl FnMut(&[RleInput<'_>], usize) -> PyResult<()>,
) -> PyResult<()> {
    let mut held: Vec<HeldRle<'py>> = Vec::with_capacity(RLE_BLOCK.min(list.len()));
    let mut start = 0;
    for (i, obj) in list.iter().enumerate() {
        held.push(held_rle(&obj, i)?);
        if held.len() == RLE_BLOCK {
            let inputs: Vec<RleInput<'_>> = held.iter().map(HeldRle::input).collect();
            f(&inputs, start)?;
            start = i + 1;
            held.clear();
        }
    }
    if !held.is_empty() {
        let inputs: Vec<RleInput<'_>> = held.iter().map(HeldRle::input).collect();
        f(&inputs, start)?;
    }
    Ok(())
}

/// Reads a list (or any iterable) of RLE dicts.
pub fn held_rles<'py>(objs: &Bound<'py, PyAny>) -> PyResult<Vec<HeldRle<'py>>> {
    if let Ok(list) = objs.cast::<PyList>() {
        return list
            .iter()
            .enumerate()
            .map(|(i, o)| held_rle(&o, i))
            .collect();
    }
    objs.try_iter()?
        .enumerate()
        .map(|(i, o)| held_rle(&o?, i))
        .collect()
}

/// `{'size': [h, w], 'counts': b'...'}`, keys in pycocotools' order.
pub fn rle_dict<'py>(
    py: Python<'py>,
    h: u64,
    w: u64,
    counts: &[u8],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "size"), PyList::new(py, [h, w])?)?;
    d.set_item(intern!(py, "counts"), PyBytes::new(py, counts))?;
    Ok(d)
}

/// Runs `f` with Python's cyclic garbage collector paused. Building thousands of result dicts
/// and lists would otherwise trigger collections that scan every live container (the caller's
/// inputs included) although nothing built here can form a cycle. The collector's previous
/// state is restored whatever `f` returns.
pub fn without_gc<'py, T>(py: Python<'py>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    let gc = py.import(intern!(py, "gc"))?;
    let was_enabled = gc.call_method0(intern!(py, "isenabled"))?.is_truthy()?;
    if was_enabled {
        gc.call_method0(intern!(py, "disable"))?;
    }
    let out = f();
    if was_enabled {
        gc.call_method0(intern!(py, "enable"))?;
    }
    out
}

/// A list of RLE dicts from RLEs and their counts strings.
pub fn rle_dicts<'py>(
    py: Python<'py>,
    rles: &[Rle],
    strings: &[Vec<u8>],
) -> PyResult<Bound<'py, PyList>> {
    without_gc(py, || {
        let list = PyList::empty(py);
        for (r, s) in rles.iter().zip(strings) {
            list.append(rle_dict(py, r.h, r.w, s)?)?;
        }
        Ok(list)
    })
}

/// The RLE dicts of the RLEs `make` builds: it and the counts strings run without the GIL.
pub fn made_rle_dicts<'py>(
    py: Python<'py>,
    make: impl FnOnce() -> cocors_core::Result<Vec<Rle>> + Send,
) -> PyResult<Bound<'py, PyList>> {
    let (rles, strings) = py
        .detach(|| {
            let rles = make()?;
            let strings = cocors_core::rle::batch::to_strings(&rles);
            Ok((rles, strings))
        })
        .map_err(|e| to_py(py, e))?;
    rle_dicts(py, &rles, &strings)
}

/// A flat sequence of numbers as f64, converted as `np.array(p, dtype=np.double)` converts
/// Python and numpy numbers (ints correctly rounded, floats as they are).
pub fn coordinates(obj: &Bound<'_, PyAny>, index: usize, out: &mut Vec<f64>) -> PyResult<()> {
    let py = obj.py();
    let bad = |what: String| {
        input_type(
            py,
            format!(
                "polygon #{index} must be a flat list of numbers [x0, y0, x1, y1, ...]; {what}"
            ),
        )
    };
    let one = |v: &Bound<'_, PyAny>| -> PyResult<f64> {
        if let Ok(f) = v.cast::<PyFloat>() {
            return Ok(f.value());
        }
        if v.is_instance_of::<PyString>() || v.is_instance_of::<PyBytes>() {
            return Err(bad(format!("found {}", describe(v))));
        }
        v.extract::<f64>()
            .map_err(|_| bad(format!("found {}", describe(v))))
    };
    if let Ok(list) = obj.cast::<PyList>() {
        out.reserve(list.len());
        for v in list.iter() {
            out.push(one(&v)?);
        }
        return Ok(());
    }
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyDict>()
    {
        return Err(bad(format!("got {}", describe(obj))));
    }
    let it = obj
        .try_iter()
        .map_err(|_| bad(format!("got {}", describe(obj))))?;
    for v in it {
        out.push(one(&v?)?);
    }
    Ok(())
}

/// A parsed JSON value as the Python object `json.load` would have made of it.
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::BigInt(digits) => py.get_type::<PyInt>().call1((digits.as_str(),))?,
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::StrSurrogates(bytes) => PyBytes::new(py, bytes)
            .call_method1(intern!(py, "decode"), ("utf-8", "surrogatepass"))?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(members) => {
            // Set in order: a repeated key keeps its first position and its last value.
            let dict = PyDict::new(py);
            for (k, item) in members {
                dict.set_item(value_to_py(py, k)?, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
