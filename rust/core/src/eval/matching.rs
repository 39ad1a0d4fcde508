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

/// What accumulate reads of a detection at a threshold.
pub const IGNORED: u8 = 0;
pub const TRUE_POSITIVE: u8 = 1;
pub const FALSE_POSITIVE: u8 = 2;

impl EvalImg {
    /// The accumulate view, T x D row-major: ignored, true positive (matched: `dtm != 0`) or
    /// false positive.
    fn statuses(&self, out: &mut Vec<u8>) {
        out.extend(
            self.dt_matches
                .iter()
                .zip(&self.dt_ignore)
                .map(|(&m, &ig)| {
                    if ig {
                        IGNORED
                    } else if m != 0 {
                        TRUE_POSITIVE
                    } else {
                        FALSE_POSITIVE
                    }
                }),
        );
    }
}

/// The matching of cell `c` at every area range, kept compact: detection statuses
/// (A x T x D) and the number of not-ignored ground truths per area range. `scratch` is
/// reused between calls.
pub(super) fn match_cell(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    scratch: &mut EvalImg,
) -> (Vec<u8>, Vec<u32>) {
    let areas = params.area_rng.len();
    let mut status = Vec::with_capacity(areas * params.iou_thrs.len() * c.dt.len());
    let mut npig = Vec::with_capacity(areas);
    for rng in &params.area_rng {
        evaluate_img_into(params, c, gt, dt, *rng, scratch);
        scratch.statuses(&mut status);
        npig.push(scratch.gt_ignore.iter().filter(|&&g| !g).count() as u32);
    }
    (status, npig)
}

/// `evaluateImg(imgId, catId, aRng, maxDet)` for cell `c`.
pub(super) fn evaluate_img(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    rng: [f64; 2],
) -> EvalImg {
    let mut out = EvalImg::default();
    evaluate_img_into(params, c, gt, dt, rng, &mut out);
    out
}

/// [`evaluate_img`] into `out`, whose buffers are reused.
fn evaluate_img_into(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    rng: [f64; 2],
    out: &mut EvalImg,
) {
    let (ng, nd, nt) = (c.gt.len(), c.dt.len(), params.iou_thrs.len());
    let ignored = |j: u32| {
        let g = c.gt[j as usize] as usize;
        gt.ignore[g] || outside(gt.area[g], rng)
    };
    // Ground truth stable-sorted with the ignored last.
    let gt_order = &mut out.gt_order;
    gt_order.clear();
    gt_order.extend((0..ng as u32).filter(|&j| !ignored(j)));
    gt_order.extend((0..ng as u32).filter(|&j| ignored(j)));
    let gt_ignore = &mut out.gt_ignore;
    gt_ignore.clear();
    gt_ignore.extend(gt_order.iter().map(|&j| ignored(j)));
    let dt_matches = &mut out.dt_matches;
    dt_matches.clear();
    dt_matches.resize(nt * nd, 0);
    let gt_matches = &mut out.gt_matches;
    gt_matches.clear();
    gt_matches.resize(nt * ng, 0);
    let dt_ignore = &mut out.dt_ignore;
    dt_ignore.clear();
    dt_ignore.resize(nt * nd, false);
    if !c.ious.is_empty() {
        for (t, &thr) in params.iou_thrs.iter().enumerate() {
            let gtm = &mut gt_matches[t * ng..(t + 1) * ng];
            for (d, &drow) in c.dt.iter().enumerate() {
                // `min([t, 1 - 1e-10])`: Python's min keeps the first unless the second is less.
                let cap = 1.0 - 1e-10;
                let mut best = if cap < thr { cap } else { thr };
                let mut m: Option<usize> = None;
                for (j, &pos) in gt_order.iter().enumerate() {
                    let g = c.gt[pos as usize] as usize;
                    // Already matched (to a detection id > 0) and not a crowd: skip.
                    if gtm[j] > 0 && !gt.crowd[g] {
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
                    dt_matches[t * nd + d] = gt.id[c.gt[gt_order[m] as usize] as usize];
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
}
