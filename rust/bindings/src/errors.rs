//! The one mapping from core errors to the Python exception tree of `cocors.errors`.
//!
//! The classes live in Python (`python/cocors/errors.py`) so that `InputTypeError` can be both a
//! `CocorsError` (itself a `ValueError`) and a `TypeError`. The match below has no catch-all
//! arm: a new core variant will not compile until it is mapped here.

use cocors_core::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static RLE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static GEOMETRY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INPUT_TYPE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static COCORS_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PARSE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SCHEMA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FILE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FILE_CHANGED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EVAL_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn raise(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, msg: String) -> PyErr {
    match cell.import(py, "cocors.errors", name) {
        Ok(ty) => PyErr::from_type(ty.clone(), msg),
        Err(import_failed) => import_failed,
    }
}

/// Converts a core error into the matching `cocors` exception.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let msg = err.to_string();
    match err.innermost() {
        Error::RleBadByte { .. }
        | Error::RleTruncated { .. }
        | Error::RleRunOutOfRange { .. }
        | Error::RleCountsSum { .. }
        | Error::RleWalkEndsEarly { .. }
        | Error::SizeTooLarge { .. } => raise(py, &RLE_ERROR, "RleError", msg),
        Error::BadCoordinate { .. } => raise(py, &GEOMETRY_ERROR, "GeometryError", msg),
        Error::Parse { .. } => raise(py, &PARSE_ERROR, "ParseError", msg),
        Error::Schema { .. } => raise(py, &SCHEMA_ERROR, "SchemaError", msg),
        Error::Io { .. } => raise(py, &FILE_ERROR, "FileError", msg),
        Error::FileChanged { .. } => raise(py, &FILE_CHANGED_ERROR, "FileChangedError", msg),
        Error::Eval(_) => raise(py, &EVAL_ERROR, "EvalError", msg),
        // `innermost` never returns a wrapper; mapped for exhaustiveness.
        Error::Item { .. } | Error::OutputSize { .. } => {
            raise(py, &COCORS_ERROR, "CocorsError", msg)
        }
    }
}

/// A wrong Python type or shape in the input (a `TypeError` and a `CocorsError`).
pub fn input_type(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &INPUT_TYPE_ERROR, "InputTypeError", msg)
}

/// A bad value that the binding finds while converting (e.g. a run length out of range).
pub fn rle_value(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &RLE_ERROR, "RleError", msg)
}

/// Any other bad argument value (the base class, a `ValueError`).
pub fn value(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &COCORS_ERROR, "CocorsError", msg)
}
