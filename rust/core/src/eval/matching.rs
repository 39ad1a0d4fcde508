//! `evaluateImg`: pycocotools' greedy matching of one cell at one area range.

use super::cells::Cell;
use super::{Anns, Params};

/// The `evaluateImg` result of one (category, area range, image). Detections are the cell's
/// (score order, truncated); ground truth is in `gt_order`.
#[derive(Debug, Clone, Default)]
pub struct EvalImg {
    /// Positions in the cell's ground truth, not-ignored first (stable: `np.argsort(_ignore,
    /// kind='mergesort')`).
    pub gt_order: Vec<u32>,
    /// `gtIgnore`, in `gt_order`.
    pub gt_ignore: Vec<bool>,
    /// `dtMatches`, T x D row-major: the id of the matched ground truth, 0 if none (so, as in
    /// pycocotools, a match with an annotation of id 0 reads as no match).
    pub dt_matches: Vec<i64>,
    /// `gtMatches`, T x G row-major: the id of the matched detection, 0 if none.
    pub gt_matches: Vec<i64>,
    /// `dtIgnore`, T x D row-major.
    pub dt_ignore: Vec<bool>,
}

/// Whether `area` is outside `[lo, hi]` (inclusive, unlike `getAnnIds`; NaN is inside).
fn outside(area: f64, rng: [f64; 2]) -> bool {
    area < rng[0] || area > rng[1]
}

/// `evaluateImg(imgId, catId, aRng, maxDet)` for cell `c`.
pub(super) fn evaluate_img(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    rng: [f64; 2],
) -> EvalImg {
    let (ng, nd, nt) = (c.gt.len(), c.dt.len(), params.iou_thrs.len());
    let ignored: Vec<bool> =
        c.gt.iter()
            .map(|&g| gt.ignore[g as usize] || outside(gt.area[g as usize], rng))
            .collect();
    let mut gt_order: Vec<u32> = (0..ng as u32).collect();
    gt_order.sort_by_key(|&j| ignored[j as usize]);
    let gt_ignore: Vec<bool> = gt_order.iter().map(|&j| ignored[j as usize]).collect();
    let rows: Vec<usize> = gt_order
        .iter()
        .map(|&j| c.gt[j as usize] as usize)
        .collect();
    let crowd: Vec<bool> = rows.iter().map(|&g| gt.crowd[g]).collect();
    let gt_ids: Vec<i64> = rows.iter().map(|&g| gt.id[g]).collect();
    let mut dt_matches = vec![0i64; nt * nd];
    let mut gt_matches = vec![0i64; nt * ng];
    let mut dt_ignore = vec![false; nt * nd];
    if !c.ious.is_empty() {
        for (t, &thr) in params.iou_thrs.iter().enumerate() {
            let gtm = &mut gt_matches[t * ng..(t + 1) * ng];
            for (d, &drow) in c.dt.iter().enumerate() {
                // `min([t, 1 - 1e-10])`: Python's min keeps the first unless the second is less.
                let cap = 1.0 - 1e-10;
                let mut best = if cap < thr { cap } else { thr };
                let mut m: Option<usize> = None;
                for (j, &pos) in gt_order.iter().enumerate() {
                    // Already matched (to a detection id > 0) and not a crowd: skip.
                    if gtm[j] > 0 && !crowd[j] {
                        continue;
                    }
                    // Matched to a regular gt and reached the ignored ones: stop.
                    if let Some(m) = m {
                        if !gt_ignore[m] && gt_ignore[j] {
                            break;
                        }
                    }
                    let v = c.ious[pos as usize * nd + d];
                    // Only a smaller IoU is skipped: on equal IoU the later gt wins (and a
                    // NaN IoU matches, as in pycocotools).
                    if v < best {
                        continue;
                    }
                    best = v;
                    m = Some(j);
                }
                if let Some(m) = m {
                    dt_ignore[t * nd + d] = gt_ignore[m];
                    dt_matches[t * nd + d] = gt_ids[m];
                    gtm[m] = dt.id[drow as usize];
                }
            }
        }
    }
    // Unmatched detections outside the area range are ignored.
    for (d, &drow) in c.dt.iter().enumerate() {
        if outside(dt.area[drow as usize], rng) {
            for t in 0..nt {
                if dt_matches[t * nd + d] == 0 {
                    dt_ignore[t * nd + d] = true;
                }
            }
        }
    }
    EvalImg {
        gt_order,
        gt_ignore,
        dt_matches,
        gt_matches,
        dt_ignore,
    }
}
