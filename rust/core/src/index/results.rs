//! A results file (`COCO.loadRes(path)`): the top-level list of detections indexed like the
//! annotations of a dataset, with the columns that `loadRes` would write into each dict
//! computed here instead: `id` (1, 2, ... in file order), `area` and `bbox` by the branch that
//! the first record selects, exactly as pycocotools computes them:
//!
//! - `bbox` (the first record has a non-empty `bbox`): `area = w * h`, the box as given;
//! - `segm` (else, the first record has a `segmentation`): `area = maskUtils.area(rle)`, the box
//!   as given or `maskUtils.toBbox(rle)`; every segmentation must be an RLE dict;
//! - `keypoints` (else, the first record has `keypoints`): `x0, x1, y0, y1` = min / max of
//!   `keypoints[0::3]` and `[1::3]` (NaN propagating, as `np.min` does), `area = (x1 - x0) *
//!   (y1 - y0)`, `bbox = [x0, y0, x1 - x0, y1 - y0]`.
//!
//! What had to be parsed for these columns is kept for the evaluation: the segm branch's masks
//! as compact counts strings ([`Packed`], a few times smaller than decoded runs), the keypoints
//! branch's keypoints as numbers.
//!
//! Integer inputs give the same numbers as Python's int arithmetic wherever products stay
//! below 2^53 (any real box or keypoint). The other shapes (`caption` results, a first record
//! of none of these kinds) are reported as [`Branch::Other`] for the caller to handle the way
//! pycocotools does; a record that does not fit its branch is a schema error naming it.

use super::columns::Boxes;
use super::json::{self, Member, Numeric, Value};
use super::{flag, segm, Index, Kind};
use crate::error::{Error, Result};
use crate::eval::Keypoints;
use crate::rle::{ops, Packed, Rle};
use std::sync::Arc;

/// Records whose segmentations are parsed at once when a results file is indexed.
const RESULT_CHUNK: usize = 1 << 15;

/// Which `loadRes` branch the first record selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    /// No results.
    Empty,
    Bbox,
    Segm,
    Keypoints,
    /// Captions, or a first record with none of `bbox`, `segmentation`, `keypoints`.
    Other,
}

impl Branch {
    pub fn name(self) -> &'static str {
        match self {
            Branch::Empty => "empty",
            Branch::Bbox => "bbox",
            Branch::Segm => "segm",
            Branch::Keypoints => "keypoints",
            Branch::Other => "other",
        }
    }
}

/// `loadRes`'s dispatch on `anns[0]`.
fn branch_of(first: &Value) -> Branch {
    let has = |k: &str| first.get(k).is_some();
    if has("caption") {
        Branch::Other
    } else if first
        .get("bbox")
        .is_some_and(|b| !matches!(b, Value::Array(v) if v.is_empty()))
    {
        Branch::Bbox
    } else if has("segmentation") {
        Branch::Segm
    } else if has("keypoints") {
        Branch::Keypoints
    } else {
        Branch::Other
    }
}

impl Index {
    fn result_error(&self, row: usize, field: &str, expected: &str) -> Error {
        Error::Schema {
            path: self.source().path_text(),
            record: format!("results[{row}]"),
            field: field.into(),
            expected: expected.into(),
        }
    }

    /// Sets `results` and the derived columns (`area`, `bbox`) of a scanned results file.
    pub(super) fn derive_results(&mut self) -> Result<()> {
        let n = self.annotations.len();
        // Results keep plain boxes: evaluations share them, and the branches rewrite them.
        self.ann.bbox = Boxes::Plain(self.ann.bbox.to_arc());
        if n == 0 {
            self.results = Some(Branch::Empty);
            return Ok(());
        }
        let first = self
            .records(Kind::Results, &[0])?
            .pop()
            .unwrap_or(Value::Null);
        let branch = branch_of(&first);
        self.results = Some(branch);
        if branch == Branch::Other {
            return Ok(());
        }
        // pycocotools' createIndex reads every category_id (the results have categories).
        if let Some(r) = self
            .ann
            .flags
            .iter()
            .position(|f| f & flag::HAS_CATEGORY == 0)
        {
            return Err(self.result_error(r, "category_id", "an integer"));
        }
        match branch {
            Branch::Bbox => {
                if let Some(r) = self.ann.flags.iter().position(|f| f & flag::HAS_BBOX == 0) {
                    return Err(self.result_error(r, "bbox", "[x, y, width, height]"));
                }
                let boxes = self.ann.bbox.to_arc();
                self.ann.area = Arc::new(boxes.iter().map(|b| b[2] * b[3]).collect());
            }
            Branch::Segm => {
                let rows: Vec<usize> = (0..n).collect();
                let (masks, area, bbox) = self.result_rles(&rows)?;
                let mut boxes = std::mem::take(&mut self.ann.bbox).into_plain();
                for (r, b) in bbox.into_iter().enumerate() {
                    if self.ann.flags[r] & flag::HAS_BBOX == 0 {
                        boxes[r] = b;
                    }
                }
                self.ann.bbox = Boxes::Plain(Arc::new(boxes));
                self.ann.area = Arc::new(area);
                self.result_masks = Some(Arc::new(masks));
            }
            Branch::Keypoints => {
                let rows: Vec<usize> = (0..n).collect();
                let mut area = Vec::with_capacity(n);
                let mut kept = Keypoints::default();
                let values = self.result_keypoints(&rows)?;
                let mut boxes = std::mem::take(&mut self.ann.bbox).into_plain();
                for (r, kp) in values.into_iter().enumerate() {
                    let x = min_max(kp.iter().step_by(3));
                    let y = min_max(kp.iter().skip(1).step_by(3));
                    let (Some((x0, x1)), Some((y0, y1))) = (x, y) else {
                        // np.min of an empty array raises.
                        return Err(self.result_error(r, "keypoints", "a list of x, y, v numbers"));
                    };
                    area.push((x1 - x0) * (y1 - y0));
                    boxes[r] = [x0, y0, x1 - x0, y1 - y0];
                    kept.push(&kp);
                }
                self.ann.bbox = Boxes::Plain(Arc::new(boxes));
                self.ann.area = Arc::new(area);
                kept.shrink_to_fit();
                self.result_keypoints = Some(Arc::new(kept));
            }
            Branch::Empty | Branch::Other => {}
        }
        Ok(())
    }

    /// The segmentations of result `rows` (each an RLE dict, what `maskUtils.area` takes in
    /// the segm branch) as compact strings, with each mask's area and box. Each batch of
    /// records is parsed and measured in parallel; nothing but the strings is kept.
    pub fn result_rles(&self, rows: &[usize]) -> Result<(Packed, Vec<f64>, Vec<[f64; 4]>)> {
        type Made = std::result::Result<(u64, u64, Vec<u8>, u32, [f64; 4]), Option<Error>>;
        let parse = |b: &[u8]| {
            json::parse_numeric_members(b, &["segmentation"]).map(|mut m| -> Made {
                let Some(Member::Value(v @ Value::Object(_))) = m.remove(0) else {
                    return Err(None);
                };
                let (h, w, counts) = segm::compressed_of(&v).map_err(Some)?;
                let rle = Rle::from_counts_string(h, w, &counts).map_err(Some)?;
                let bbox = ops::to_bbox(&rle).map_err(Some)?;
                Ok((h, w, counts.into_owned(), ops::area(&rle), bbox))
            })
        };
        let mut packed = Packed::default();
        let (mut area, mut bbox) = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        // A chunk of rows at a time, so that only one chunk's strings are held twice.
        for chunk in rows.chunks(RESULT_CHUNK) {
            let made = self.parse_rows(Kind::Results, chunk, parse)?;
            for (m, &r) in made.into_iter().zip(chunk) {
                let (h, w, counts, a, b) = m.map_err(|e| match e {
                    Some(e) => self.name_error(e, r),
                    None => self.result_error(r, "segmentation", "an RLE dict (size and counts)"),
                })?;
                packed
                    .push(h, w, &counts)
                    .map_err(|e| self.name_error(e, r))?;
                area.push(f64::from(a));
                bbox.push(b);
            }
        }
        packed.shrink_to_fit();
        Ok((packed, area, bbox))
    }

    /// The keypoints of result `rows`, each a list of numbers.
    pub fn result_keypoints(&self, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        let kps = self.member_of(Kind::Results, rows, "keypoints")?;
        kps.into_iter()
            .zip(rows)
            .map(|(kp, &r)| match kp {
                Some(Member::Numeric(Numeric::Numbers(v))) => Ok(v),
                Some(Member::Value(Value::Array(v))) if v.is_empty() => Ok(Vec::new()),
                _ => Err(self.result_error(r, "keypoints", "a list of x, y, v numbers")),
            })
            .collect()
    }

    /// Names result `row` in a schema error about it.
    pub fn name_error(&self, e: Error, row: usize) -> Error {
        match e {
            Error::Schema {
                field, expected, ..
            } => self.result_error(row, &field, &expected),
            other => other.at_item(row),
        }
    }
}

/// `(np.min(v), np.max(v))`: None for no values, NaN if any value is NaN.
fn min_max<'a>(values: impl Iterator<Item = &'a f64>) -> Option<(f64, f64)> {
    let mut out: Option<(f64, f64)> = None;
    for &v in values {
        out = Some(match out {
            None => (v, v),
            Some((lo, hi)) if lo.is_nan() => (lo, hi),
            Some(_) if v.is_nan() => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn open(text: &str) -> Result<Index> {
        let mut f = tempfile::NamedTempFile::new().map_err(|e| Error::Io {
            path: String::new(),
            message: e.to_string(),
        })?;
        f.write_all(text.as_bytes()).map_err(|e| Error::Io {
            path: String::new(),
            message: e.to_string(),
        })?;
        Index::open_results(f.path())
    }

    #[test]
    fn branches_and_derived_columns() {
        let Ok(idx) = open(
            r#"[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4.5], "score": 0.5},
                {"image_id": 3, "category_id": 2, "bbox": [0, 0, 2, 2], "score": 1, "id": 99}]"#,
        ) else {
            unreachable!("bbox results index")
        };
        assert_eq!(idx.results, Some(Branch::Bbox));
        assert_eq!(idx.annotations.ids.to_vec(), [1, 2]);
        assert_eq!(*idx.ann.area, [13.5, 4.0]);
        assert_eq!(*idx.ann.score, [0.5, 1.0]);

        let Ok(idx) = open(
            r#"[{"image_id": 1, "category_id": 2, "segmentation": {"size": [4, 4], "counts": "62113"}, "score": 0.5}]"#,
        ) else {
            unreachable!("segm results index")
        };
        assert_eq!(idx.results, Some(Branch::Segm));
        assert_eq!(*idx.ann.area, [5.0]);
        assert_eq!(*idx.ann.bbox.to_arc(), [[1.0, 1.0, 2.0, 3.0]]);

        let Ok(idx) = open(
            r#"[{"image_id": 1, "category_id": 1, "keypoints": [1, 5, 2, 4, 1.5, 2, 3, 9, 0], "score": 0.5},
                {"image_id": 1, "category_id": 1, "keypoints": [NaN, 5, 2, 4, 1.5, 2], "score": 0.5}]"#,
        ) else {
            unreachable!("keypoint results index")
        };
        assert_eq!(idx.results, Some(Branch::Keypoints));
        assert_eq!(idx.ann.area[0], 3.0 * 7.5);
        assert_eq!(idx.ann.bbox.get(0), [1.0, 1.5, 3.0, 7.5]);
        assert!(idx.ann.area[1].is_nan() && idx.ann.bbox.get(1)[0].is_nan());

        for (text, branch) in [
            ("[]", Branch::Empty),
            (r#"[{"image_id": 1, "caption": "a dog"}]"#, Branch::Other),
            (
                r#"[{"image_id": 1, "category_id": 1, "segmentation": {"size": [1, 1], "counts": "01"}}]"#,
                Branch::Segm,
            ),
        ] {
            assert_eq!(
                open(text).ok().and_then(|i| i.results),
                Some(branch),
                "{text}"
            );
        }
    }

    #[test]
    fn records_that_do_not_fit_their_branch_are_named() {
        for (text, field) in [
            (
                r#"[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}, {"image_id": 1, "category_id": 1}]"#,
                "bbox",
            ),
            (r#"[{"image_id": 1, "bbox": [1, 2, 3, 4]}]"#, "category_id"),
            (
                r#"[{"image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3, 4, 5, 6]]}]"#,
                "segmentation",
            ),
            (
                r#"[{"image_id": 1, "category_id": 1, "keypoints": []}]"#,
                "keypoints",
            ),
            (
                r#"[{"image_id": "1", "category_id": 1, "keypoints": [1, 2, 1]}]"#,
                "image_id",
            ),
            // pycocotools keeps an empty box in the segm branch; the scan wants four numbers
            // (the caller then takes pycocotools' route).
            (
                r#"[{"image_id": 1, "category_id": 1, "bbox": [], "segmentation": {"size": [1, 1], "counts": "01"}}]"#,
                "bbox",
            ),
            (r#"{"annotations": []}"#, ""),
        ] {
            match open(text) {
                Err(Error::Schema { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => unreachable!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            open("[{\"image_id\": 1,}]"),
            Err(Error::Parse { .. })
        ));
    }
}
