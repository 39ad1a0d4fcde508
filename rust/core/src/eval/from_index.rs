//! Ground-truth columns of an evaluation straight from the lazy index: ids, image and
//! category ids, areas, crowd flags and boxes from its columns; masks and keypoints parsed from
//! the records' bytes.

use super::{Anns, Geometry, IouType, Keypoints};
use crate::error::{Error, Result};
use crate::index::json::{Member, Numeric, Value};
use crate::index::{flag, Index};

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
    for &r in rows {
        need(r, flag::HAS_AREA, "area", "a number")?;
        out.id.push(idx.annotations.ids.get(r));
        out.image_id.push(idx.ann.image_id.get(r));
        out.category_id.push(idx.ann.category_id.get(r));
        out.area.push(idx.ann.area[r]);
        need(r, flag::HAS_ISCROWD, "iscrowd", "0 or 1")?;
        let crowd = idx.ann.flags[r] & flag::ISCROWD != 0;
        out.crowd.push(crowd);
        out.ignore.push(crowd);
    }
    match kind {
        IouType::Bbox => {
            for &r in rows {
                need(r, flag::HAS_BBOX, "bbox", "[x, y, width, height]")?;
            }
            out.geometry = Geometry::Boxes(rows.iter().map(|&r| idx.ann.bbox[r]).collect());
        }
        IouType::Segm => {
            out.geometry = Geometry::Masks(idx.annotation_rles(rows)?);
        }
        IouType::Keypoints => {
            let records = idx.annotation_members(rows, &["keypoints", "num_keypoints"])?;
            let mut kp = Keypoints {
                values: Vec::new(),
                starts: vec![0],
            };
            let mut boxes = Vec::with_capacity(rows.len());
            for (p, mut rec) in records.into_iter().enumerate() {
                let r = rows[p];
                let bad = |field: &str, expected: &str| Error::Schema {
                    path: path.clone(),
                    record: name(r),
                    field: field.into(),
                    expected: expected.into(),
                };
                // Missing keypoints are an error only where OKS reads them (a cell with
                // detections), as in pycocotools.
                let values = match rec[0].take() {
                    Some(Member::Numeric(Numeric::Numbers(v))) => v,
                    Some(Member::Value(Value::Array(v))) => v
                        .iter()
                        .map(Value::as_f64)
                        .collect::<Option<Vec<f64>>>()
                        .ok_or_else(|| bad("keypoints", "a list of x, y, v numbers"))?,
                    None => Vec::new(),
                    Some(_) => return Err(bad("keypoints", "a list of x, y, v numbers")),
                };
                kp.values.extend(values);
                kp.starts.push(kp.values.len());
                let nk = match &rec[1] {
                    Some(Member::Value(v)) => v.as_f64(),
                    _ => None,
                }
                .ok_or_else(|| bad("num_keypoints", "a number"))?;
                if nk == 0.0 {
                    out.ignore[p] = true;
                }
                need(r, flag::HAS_BBOX, "bbox", "[x, y, width, height]")?;
                boxes.push(idx.ann.bbox[r]);
            }
            out.geometry = Geometry::Keypoints(kp, boxes);
        }
    }
    Ok(out)
}
