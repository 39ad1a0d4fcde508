//! `evaluateImg`: pycocotools' greedy matching of one cell at one area range.
//!
//! One matching routine, [`Matcher::run`], serves both views: the compact statuses that
//! `evaluate` keeps for accumulate, and the full `evaluateImg` dict rebuilt on request.

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

/// No ground truth matched.
const NONE: u32 = u32::MAX;

/// The greedy matching of one cell for one set of ignore flags, with its buffers (reused
/// from cell to cell).
#[derive(Debug, Default)]
pub(super) struct Matcher {
    /// Ground-truth positions in the cell, not-ignored first (stable).
    order: Vec<u32>,
    /// Per position in `order`: ignored, crowd.
    ignore: Vec<bool>,
    crowd: Vec<bool>,
    /// IoUs in `order`, D x G row-major (one detection's row contiguous).
    ious: Vec<f64>,
    /// Per (threshold, detection), T x D: the position in `order` of the matched ground
    /// truth, or [`NONE`].
    matched: Vec<u32>,
    /// Per position in `order`, during one threshold: taken by a detection of id > 0.
    taken: Vec<bool>,
    /// The ignore flags (in cell order) `matched` was computed for.
    flags: Vec<bool>,
    ready: bool,
}

impl Matcher {
    /// Matches cell `c` where `ignored(g)` says which of its ground truths (cell positions)
    /// are ignored; a no-op when the flags equal the last run's (area ranges often agree).
    fn run(
        &mut self,
        params: &Params,
        c: &Cell,
        gt: &Anns,
        dt: &Anns,
        ignored: impl Fn(usize) -> bool,
    ) {
        let (ng, nd, nt) = (c.gt.len(), c.dt.len(), params.iou_thrs.len());
        let same =
            self.ready && self.flags.len() == ng && (0..ng).all(|g| self.flags[g] == ignored(g));
        if same {
            return;
        }
        self.ready = true;
        self.flags.clear();
        self.flags.extend((0..ng).map(&ignored));
        self.order.clear();
        self.order
            .extend((0..ng as u32).filter(|&g| !self.flags[g as usize]));
        self.order
            .extend((0..ng as u32).filter(|&g| self.flags[g as usize]));
        self.ignore.clear();
        self.ignore
            .extend(self.order.iter().map(|&g| self.flags[g as usize]));
        self.crowd.clear();
        self.crowd.extend(
            self.order
                .iter()
                .map(|&g| gt.crowd[c.gt[g as usize] as usize]),
        );
        self.matched.clear();
        self.matched.resize(nt * nd, NONE);
        if c.ious.is_empty() {
            return;
        }
        self.ious.clear();
        for d in 0..nd {
            self.ious
                .extend(self.order.iter().map(|&g| c.ious[g as usize * nd + d]));
        }
        // Cap of the start: `min([t, 1 - 1e-10])`, Python's min keeps the first unless the
        // second is less.
        let cap = 1.0 - 1e-10;
        for (t, &thr) in params.iou_thrs.iter().enumerate() {
            self.taken.clear();
            self.taken.resize(ng, false);
            let start = if cap < thr { cap } else { thr };
            for (d, &drow) in c.dt.iter().enumerate() {
                let row = &self.ious[d * ng..(d + 1) * ng];
                let mut best = start;
                let mut m = NONE;
                for (j, &v) in row.iter().enumerate() {
                    // Already matched (to a detection id > 0) and not a crowd: skip.
                    if self.taken[j] && !self.crowd[j] {
                        continue;
                    }
                    // Matched to a regular gt and reached the ignored ones: stop.
                    if m != NONE && !self.ignore[m as usize] && self.ignore[j] {
                        break;
                    }
                    // Only a smaller IoU is skipped: on equal IoU the later gt wins (and a
                    // NaN IoU matches, as in pycocotools).
                    if v < best {
                        continue;
                    }
                    best = v;
                    m = j as u32;
                }
                if m != NONE {
                    self.matched[t * nd + d] = m;
                    // pycocotools' `gtm > 0` test reads the detection's id.
                    self.taken[m as usize] = dt.id[drow as usize] > 0;
                }
            }
        }
    }

    /// The id of the ground truth at position `j` of `order`.
    fn gt_id(&self, c: &Cell, gt: &Anns, j: u32) -> i64 {
        gt.id[c.gt[self.order[j as usize] as usize] as usize]
    }
}

/// The matching of cell `c` at every area range, kept compact: detection statuses
/// (A x T x D) and the number of not-ignored ground truths per area range.
pub(super) fn match_cell(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    matcher: &mut Matcher,
) -> (Vec<u8>, Vec<u32>) {
    let (nd, nt) = (c.dt.len(), params.iou_thrs.len());
    let mut status = Vec::with_capacity(params.area_rng.len() * nt * nd);
    let mut npig = Vec::with_capacity(params.area_rng.len());
    matcher.ready = false;
    for &rng in &params.area_rng {
        matcher.run(params, c, gt, dt, |g| {
            let g = c.gt[g] as usize;
            gt.ignore[g] || outside(gt.area[g], rng)
        });
        npig.push(matcher.ignore.iter().filter(|&&g| !g).count() as u32);
        for t in 0..nt {
            for (d, &drow) in c.dt.iter().enumerate() {
                let m = matcher.matched[t * nd + d];
                // Unmatched detections (or matched to a ground truth of id 0, which reads as
                // unmatched) outside the area range are ignored.
                let out = || outside(dt.area[drow as usize], rng);
                status.push(if m == NONE {
                    if out() {
                        IGNORED
                    } else {
                        FALSE_POSITIVE
                    }
                } else if matcher.ignore[m as usize] {
                    IGNORED
                } else if matcher.gt_id(c, gt, m) != 0 {
                    TRUE_POSITIVE
                } else if out() {
                    IGNORED
                } else {
                    FALSE_POSITIVE
                });
            }
        }
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
    let mut m = Matcher::default();
    m.run(params, c, gt, dt, |g| {
        let g = c.gt[g] as usize;
        gt.ignore[g] || outside(gt.area[g], rng)
    });
    let (ng, nd, nt) = (c.gt.len(), c.dt.len(), params.iou_thrs.len());
    let mut out = EvalImg {
        gt_order: m.order.clone(),
        gt_ignore: m.ignore.clone(),
        dt_matches: vec![0; nt * nd],
        gt_matches: vec![0; nt * ng],
        dt_ignore: vec![false; nt * nd],
    };
    for t in 0..nt {
        for (d, &drow) in c.dt.iter().enumerate() {
            let j = m.matched[t * nd + d];
            if j != NONE {
                out.dt_ignore[t * nd + d] = m.ignore[j as usize];
                out.dt_matches[t * nd + d] = m.gt_id(c, gt, j);
                // A crowd matched again keeps the last detection's id.
                out.gt_matches[t * ng + j as usize] = dt.id[drow as usize];
            }
            if out.dt_matches[t * nd + d] == 0 && outside(dt.area[drow as usize], rng) {
                out.dt_ignore[t * nd + d] = true;
            }
        }
    }
    out
}
