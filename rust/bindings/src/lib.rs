//! `cocors._cocors`: the PyO3 binding of `cocors-core`. It converts types, releases the GIL
//! around batch work and maps errors; no logic lives here.

mod convert;
mod errors;
mod eval;
mod index;
mod mask;

use pyo3::prelude::*;

#[pymodule]
fn _cocors(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(mask::encode, m)?)?;
    m.add_function(wrap_pyfunction!(mask::decode, m)?)?;
    m.add_function(wrap_pyfunction!(mask::merge, m)?)?;
    m.add_function(wrap_pyfunction!(mask::area, m)?)?;
    m.add_function(wrap_pyfunction!(mask::to_bbox, m)?)?;
    m.add_function(wrap_pyfunction!(mask::iou_rles, m)?)?;
    m.add_function(wrap_pyfunction!(mask::iou_boxes, m)?)?;
    m.add_function(wrap_pyfunction!(mask::fr_bbox, m)?)?;
    m.add_function(wrap_pyfunction!(mask::fr_poly, m)?)?;
    m.add_function(wrap_pyfunction!(mask::fr_uncompressed, m)?)?;
    m.add_function(wrap_pyfunction!(mask::counts_to_string, m)?)?;
    m.add_function(wrap_pyfunction!(mask::counts_from_string, m)?)?;
    m.add_function(wrap_pyfunction!(mask::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(mask::get_num_threads, m)?)?;
    m.add_class::<index::PyIndex>()?;
    m.add_function(wrap_pyfunction!(index::image_targets, m)?)?;
    m.add_class::<eval::PyEvalAnns>()?;
    m.add_class::<eval::PyEvaluation>()?;
    m.add_function(wrap_pyfunction!(eval::eval_anns_from_dicts, m)?)?;
    m.add_function(wrap_pyfunction!(eval::eval_anns_from_index, m)?)?;
    m.add_function(wrap_pyfunction!(eval::eval_anns_from_results, m)?)?;
    m.add_function(wrap_pyfunction!(eval::evaluate, m)?)?;
    Ok(())
}
