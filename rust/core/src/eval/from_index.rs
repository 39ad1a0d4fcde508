//! Columns of an evaluation straight from a lazy index: the ground truth of a dataset file
//! ([`from_index`]) or the detections of a results file ([`from_results`]). Ids, image and
//! category ids, areas, crowd flags, scores and boxes come from the index's columns; masks and
//! keypoints are parsed from the records' bytes.

use std::sync::Arc;

use rayon::prelude::*;

use super::{Anns, Geometry, IouType, Keypoints};
use crate::error::{Error, Result};
use crate::index::json::{Member, Numeric, Value};
use crate::index::{flag, segm, Branch, Index, KeypointsRead, Kind};
use crate::parallel;
use crate::rle::Rle;

/// Ground truth of annotation `rows` of `idx` for an evaluation of `kind`, read as
/// `_prepare` reads `loadAnns`: `ignore` is the crowd flag (and, for keypoints, also
/// `num_keypoints == 0`); masks are `annToRLE`'s.
pub fn from_index(idx: &Index, rows: &[usize], kind: IouType) -> Result<Anns> {
    let path = idx.source().path_text();
    let name = |r: usize| format!("annotations[{r}] (id {})", idx.annotations.ids.get(r));
    let need = |r: usize, bit: u8, field: &str, expected: &str| {
        if idx.ann.flags[r] & bit == 0 {
            Err(Error::Schema {
                path: path.clone(),
                record: name(r),
                field: field.into(),
                expected: expected.into(),
            })
        } else {
            Ok(())
        }
    };
    let mut out = Anns::empty(kind);
    let mut area = Vec::with_capacity(rows.len());
    for &r in rows {
        need(r, flag::HAS_AREA, "area", "a number")?;
        out.id.push(idx.annotations.ids.get(r));
        out.image_id.push(idx.ann.image_id.get(r));
        out.category_id.push(idx.ann.category_id.get(r));
        area.push(idx.ann.area[r]);
        need(r, flag::HAS_ISCROWD, "iscrowd", "0 or 1")?;
        let crowd = idx.ann.flags[r] & flag::ISCROWD != 0;
        out.crowd.push(crowd);
        out.ignore.push(crowd);
    }
    out.area = Arc::new(area);
    match kind {
        IouType::Bbox => {
            for &r in rows {
                need(r, flag::HAS_BBOX, "bbox", "[x, y, width, height]")?;
            }
            out.geometry = Geometry::Boxes(Arc::new(
                rows.iter().map(|&r| idx.ann.bbox.get(r)).collect(),
            ));
        }
        IouType::Segm => {
            out.geometry = Geometry::Masks(idx.annotation_rles(rows)?.into());
        }
        IouType::Keypoints => {
            let batches = idx.annotation_keypoints(rows)?;
            // Each batch's buffer kept as it is (no copy into one); a record whose keypoints
            // are not a plain number list gets its values appended after the batch's.
            let mut kp = Keypoints::default();
            let mut boxes = Vec::with_capacity(rows.len());
            let mut p = 0;
            for batch in batches {
                let reads = batch.reads;
                kp.adopt(batch.values);
                let mut at = 0;
                for read in reads {
                    let r = rows[p];
                    let bad = |field: &str, expected: &str| Error::Schema {
                        path: path.clone(),
                        record: name(r),
                        field: field.into(),
                        expected: expected.into(),
                    };
                    // Missing keypoints are an error only where OKS reads them (a cell with
                    // detections), as in pycocotools.
                    let pushed = match read {
                        KeypointsRead::Numbers(n) => {
                            at += n;
                            kp.push_range(at - n, at)
                        }
                        KeypointsRead::Hidden(n) => {
                            kp.push_hidden(n);
                            true
                        }
                        KeypointsRead::Other(Member::Numeric(Numeric::Numbers(v))) => {
                            kp.push(&v);
                            true
                        }
                        KeypointsRead::Other(Member::Value(Value::Array(v))) => {
                            let values: Option<Vec<f64>> = v.iter().map(Value::as_f64).collect();
                            let values = values
                                .ok_or_else(|| bad("keypoints", "a list of x, y, v numbers"))?;
                            kp.push(&values);
                            true
                        }
                        KeypointsRead::Absent => {
                            kp.push_absent();
                            true
                        }
                        KeypointsRead::Other(_) => {
                            return Err(bad("keypoints", "a list of x, y, v numbers"))
                        }
                    };
                    if !pushed {
                        return Err(Error::Eval(format!(
                            "{}: keypoints read past their batch",
                            name(r)
                        )));
                    }
                    // `num_keypoints == 0` (the scan's flags: a number, and whether it is 0).
                    let flags = idx.ann.flags[r];
                    if flags & flag::HAS_NUM_KEYPOINTS == 0 {
                        return Err(bad("num_keypoints", "a number"));
                    }
                    if flags & flag::NO_KEYPOINTS != 0 {
                        out.ignore[p] = true;
                    }
                    need(r, flag::HAS_BBOX, "bbox", "[x, y, width, height]")?;
                    boxes.push(idx.ann.bbox.get(r));
                    p += 1;
                }
            }
            out.geometry = Geometry::Keypoints(kp.into(), boxes);
        }
    }
    Ok(out)
}

/// Detections of a results file ([`Index::open_results`]) for an evaluation of `kind`, as
/// `_prepare` reads `loadAnns` of `loadRes`'s dicts: every record (ids 1, 2, ...), with the
/// area and box `loadRes` derives and its score. Masks are the records' segmentations (in the
/// bbox branch, a record without one gets the box polygon `loadRes` writes); polygons are
/// rasterised at `size(image_id)` (height, width), as `annToRLE` does with the ground truth's
/// images. Keypoints are read from the records.
pub fn from_results(
    idx: &Index,
    kind: IouType,
    size: impl Fn(i64) -> Result<(u64, u64)> + Sync,
) -> Result<Anns> {
    let branch = idx.results.unwrap_or(Branch::Other);
    if branch == Branch::Other {
        return Err(Error::Eval(
            "these results have no loadRes columns (captions, or a first record without \
             bbox, segmentation or keypoints)"
                .into(),
        ));
    }
    let n = idx.annotations.len();
    let a = &idx.ann;
    if let Some(r) = a.flags.iter().position(|f| f & flag::HAS_SCORE == 0) {
        return Err(Error::Schema {
            path: idx.source().path_text(),
            record: format!("results[{r}]"),
            field: "score".into(),
            expected: "a number".into(),
        });
    }
    let mut out = Anns::empty(kind);
    out.id = (1..=n as i64).collect();
    out.image_id = a.image_id.to_vec();
    out.category_id = a.category_id.to_vec();
    out.area = Arc::clone(&a.area);
    out.score = Arc::clone(&a.score);
    let rows: Vec<usize> = (0..n).collect();
    out.geometry = match kind {
        IouType::Bbox => Geometry::Boxes(a.bbox.to_arc()),
        IouType::Segm => match &idx.result_masks {
            Some(m) => Geometry::Packed(Arc::clone(m)),
            None => Geometry::Masks(result_masks(idx, branch, &rows, size)?.into()),
        },
        IouType::Keypoints => match &idx.result_keypoints {
            Some(kp) => Geometry::Keypoints(Arc::clone(kp), Vec::new()),
            None => {
                let mut kp = Keypoints::default();
                for v in idx.result_keypoints(&rows)? {
                    kp.push(&v);
                }
                Geometry::Keypoints(kp.into(), Vec::new())
            }
        },
    };
    Ok(out)
}

/// The masks `annToRLE` makes of result `rows` when the index keeps none (results of the bbox
/// branch): each record's segmentation, or loadRes's box polygon where it has none.
fn result_masks(
    idx: &Index,
    branch: Branch,
    rows: &[usize],
    size: impl Fn(i64) -> Result<(u64, u64)> + Sync,
) -> Result<Vec<Rle>> {
    let a = &idx.ann;
    let n = rows.len();
    let segs = idx.member_of(Kind::Results, rows, "segmentation")?;
    let one = |(p, seg): (usize, &Option<Member>)| -> Result<Rle> {
        let r = rows[p];
        let image = a.image_id.get(r);
        match seg {
            Some(Member::Value(v @ Value::Object(_))) => segm::rle_of(v, 0, 0),
            Some(m) => {
                let (h, w) = size(image)?;
                segm::rle_of_member(m, h, w)
            }
            None if branch == Branch::Bbox => {
                // loadRes: segmentation = [[x1, y1, x1, y2, x2, y2, x2, y1]].
                let b = a.bbox.get(r);
                let (x1, x2, y1, y2) = (b[0], b[0] + b[2], b[1], b[1] + b[3]);
                let (h, w) = size(image)?;
                segm::polygons_rle(&[vec![x1, y1, x1, y2, x2, y2, x2, y1]], h, w)
            }
            None => Err(Error::Schema {
                path: String::new(),
                record: String::new(),
                field: "segmentation".into(),
                expected: "a segmentation to make a mask of".into(),
            }),
        }
        .map_err(|e| idx.name_error(e, r))
    };
    let rles: Vec<Result<Rle>> = if parallel::worth_parallel(n, n * 500) {
        parallel::install(|| segs.par_iter().enumerate().map(one).collect())
    } else {
        segs.iter().enumerate().map(one).collect()
    };
    rles.into_iter().collect()
}
