//! An annotation's `segmentation` to its RLE, as pycocotools' `annToRLE` makes it, straight from
//! the parsed record: polygons rasterised and merged, uncompressed runs taken as they are (with
//! their own size), compressed strings decoded.

use std::borrow::Cow;

use super::json::{Member, Numeric, Value};
use crate::error::{Error, Result};
use rayon::prelude::*;

use crate::parallel;
use crate::rle::{batch, poly, Rle};

fn schema(expected: &str) -> Error {
    Error::Schema {
        path: String::new(),
        record: String::new(),
        field: "segmentation".into(),
        expected: expected.into(),
    }
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Array(items) => items.iter().map(Value::as_f64).collect(),
        _ => None,
    }
}

fn size_of(seg: &Value) -> Result<(u64, u64)> {
    let dims = match seg.get("size") {
        Some(Value::Array(d)) if d.len() == 2 => d,
        _ => return Err(schema("an RLE with 'size': [height, width]")),
    };
    let dim = |v: &Value| match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        _ => None,
    };
    match (dim(&dims[0]), dim(&dims[1])) {
        (Some(h), Some(w)) => Ok((h, w)),
        _ => Err(schema("an RLE size of two non-negative integers")),
    }
}

/// The RLE of a segmentation value for an image of `h` x `w` (used by polygons and boxes;
/// RLE dicts carry their own size, as in pycocotools).
pub fn rle_of(seg: &Value, h: u64, w: u64) -> Result<Rle> {
    match seg {
        Value::Array(parts) => {
            let Some(first) = parts.first() else {
                // pycocotools fails on an empty polygon list; an empty mask is what is meant.
                crate::rle::check_size(h, w)?;
                return Rle::new(h, w, vec![(h * w) as u32]);
            };
            if first.as_f64().is_some() {
                // One flat polygon (or box) instead of a list of them.
                let flat = numbers(seg).ok_or_else(|| schema("a list of polygons"))?;
                return flat_rle(&flat, h, w);
            }
            let polys: Vec<Vec<f64>> = parts
                .iter()
                .map(numbers)
                .collect::<Option<_>>()
                .ok_or_else(|| schema("a list of polygons (lists of numbers)"))?;
            polygons_rle(&polys, h, w)
        }
        Value::Object(_) => {
            let (rh, rw) = size_of(seg)?;
            match seg.get("counts") {
                Some(Value::Str(s)) => Rle::from_counts_string(rh, rw, s.as_bytes()),
                Some(Value::Array(runs)) => {
                    let counts = runs
                        .iter()
                        .map(|v| match v {
                            Value::Int(i) => u32::try_from(*i).ok(),
                            Value::Float(f) if f.is_finite() && *f >= 0.0 && *f < 4294967296.0 => {
                                Some(f.trunc() as u32)
                            }
                            _ => None,
                        })
                        .collect::<Option<Vec<u32>>>()
                        .ok_or_else(|| schema("RLE counts of integers in 0..2^32"))?;
                    Rle::new(rh, rw, counts)
                }
                _ => Err(schema(
                    "an RLE with 'counts' (a string or a list of run lengths)",
                )),
            }
        }
        _ => Err(schema("polygons or an RLE")),
    }
}

/// An RLE dict as (height, width, compact counts string): a string is taken as it is (not
/// decoded), a list of runs is encoded.
pub fn compressed_of(seg: &Value) -> Result<(u64, u64, Cow<'_, [u8]>)> {
    match seg.get("counts") {
        Some(Value::Str(s)) => {
            let (h, w) = size_of(seg)?;
            Ok((h, w, Cow::Borrowed(s.as_bytes())))
        }
        _ => {
            let rle = rle_of(seg, 0, 0)?;
            Ok((rle.h, rle.w, Cow::Owned(rle.counts_string())))
        }
    }
}

/// The merged RLE of a non-empty list of polygons (all of 4 numbers: boxes, as
/// `frPyObjects` reads them).
pub fn polygons_rle(polys: &[Vec<f64>], h: u64, w: u64) -> Result<Rle> {
    let all_boxes = polys.iter().all(|p| p.len() == 4);
    let mut rles = polys
        .iter()
        .map(|p| {
            if all_boxes {
                poly::from_bbox([p[0], p[1], p[2], p[3]], h, w)
            } else if p.len() > 4 || polys.first().is_some_and(|f| f.len() > 4) {
                poly::from_polygon(p, h, w)
            } else {
                Err(schema("polygons of at least 3 points"))
            }
        })
        .collect::<Result<Vec<Rle>>>()?;
    if rles.len() == 1 {
        // rleMerge of one RLE is that RLE.
        return Ok(rles.swap_remove(0));
    }
    batch::merge(&rles, false)
}

/// [`rle_of`] of a member as [`super::json::parse_numeric_members`] read it (number lists already
/// read as numbers).
pub fn rle_of_member(seg: &Member, h: u64, w: u64) -> Result<Rle> {
    match seg {
        Member::Numeric(Numeric::Polygons(polys)) => polygons_rle(polys, h, w),
        Member::Numeric(Numeric::Numbers(flat)) => flat_rle(flat, h, w),
        Member::Value(v) => rle_of(v, h, w),
    }
}

/// The RLE of one flat polygon (or box) given instead of a list of them.
pub fn flat_rle(flat: &[f64], h: u64, w: u64) -> Result<Rle> {
    match flat.len() {
        4 => poly::from_bbox([flat[0], flat[1], flat[2], flat[3]], h, w),
        n if n > 4 => poly::from_polygon(flat, h, w),
        _ => Err(schema("a polygon of at least 3 points")),
    }
}

/// [`rle_of`] over a batch of `(segmentation, h, w)`, in parallel; errors name the item by
/// `name(i)`.
pub fn rles_of(
    items: &[(Value, u64, u64)],
    name: impl Fn(usize) -> String + Sync,
) -> Result<Vec<Rle>> {
    let one = |(i, (v, h, w)): (usize, &(Value, u64, u64))| {
        rle_of(v, *h, *w).map_err(|e| match e {
            Error::Schema {
                path,
                field,
                expected,
                ..
            } => Error::Schema {
                path,
                record: name(i),
                field,
                expected,
            },
            other => other.at_item(i),
        })
    };
    let out: Vec<Result<Rle>> = if parallel::worth_parallel(items.len(), items.len() * 500) {
        parallel::install(|| items.par_iter().enumerate().map(one).collect())
    } else {
        items.iter().enumerate().map(one).collect()
    };
    out.into_iter().collect()
}
