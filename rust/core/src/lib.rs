//! cocors-core: the pure-Rust heart of cocors. It knows nothing of Python: the binding crate
//! converts types and releases the GIL; everything numeric lives here, bit-exact with
//! pycocotools 2.0.11 (see `shared/PARITY.md` and the comments at each rule).

pub mod error;
pub mod eval;
pub mod index;
pub mod parallel;
mod prefetch;
pub mod rle;
#[cfg(test)]
mod test_rng;

pub use error::{Error, Result};
