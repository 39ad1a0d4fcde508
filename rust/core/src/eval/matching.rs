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

/// `_ignore` of ground-truth row `g` at area range `rng`: its own ignore flag, or its area
/// outside the range.
fn gt_ignored(gt: &Anns, g: u32, rng: [f64; 2]) -> bool {
    let g = g as usize;
    gt.ignore[g] || outside(gt.area[g], rng)
}

/// The IoU a match needs at threshold `t`: `min([t, 1 - 1e-10])` (Python's min keeps the
/// first unless the second is less, so a NaN threshold stays NaN).
pub(super) fn start_of(t: f64) -> f64 {
    let cap = 1.0 - 1e-10;
    if cap < t {
        cap
    } else {
        t
    }
}

/// What accumulate reads of a detection at a threshold.
pub const IGNORED: u8 = 0;
pub const TRUE_POSITIVE: u8 = 1;
pub const FALSE_POSITIVE: u8 = 2;

/// No ground truth matched.
const NONE: u32 = u32::MAX;

/// The greedy matching of a cell for one set of ground-truth ignore flags.
#[derive(Debug, Default)]
pub(super) struct Matching {
    /// The ignore flags (in cell order) it was computed for.
    flags: Vec<bool>,
    /// Ground-truth positions in the cell, not-ignored first (stable).
    order: Vec<u32>,
    /// Per position in `order`: ignored.
    ignore: Vec<bool>,
    /// Per (threshold, detection), T x D: the position in `order` of the matched ground
    /// truth, or [`NONE`].
    matched: Vec<u32>,
}

impl Matching {
    /// The id of the ground truth at position `j` of `order`.
    fn gt_id(&self, c: &Cell, gt: &Anns, j: u32) -> i64 {
        gt.id[c.gt[self.order[j as usize] as usize] as usize]
    }
}

/// Greedy matching with its buffers, reused from cell to cell. Within a cell, the matchings
/// already made are kept by ignore flags: area ranges whose flags agree (say "all" and
/// "medium" where every ground truth is medium, or "small" and "large" where none is either)
/// share one.
#[derive(Debug, Default)]
pub(super) struct Matcher {
    /// The matchings of the current cell (`made` of them; the rest are spare buffers).
    memo: Vec<Matching>,
    made: usize,
    /// Scratch: the flags asked for, crowd flags and IoUs in `order` (D x G row-major, one
    /// detection's row contiguous).
    flags: Vec<bool>,
    crowd: Vec<bool>,
    ious: Vec<f64>,
    /// Per position in `order`: taken by a detection of id > 0 during the threshold whose
    /// stamp it holds (a new stamp per threshold instead of clearing).
    taken: Vec<u32>,
    stamp: u32,
    /// Per threshold of the current matching: how many IoUs reach its start ([`NO_COUNT`]
    /// where that does not decide the matching).
    reach: Vec<usize>,
}

/// In [`Matcher::reach`]: the threshold's matching was made on its own.
const NO_COUNT: usize = usize::MAX;

impl Matcher {
    /// Starts a new cell: forgets its matchings.
    fn new_cell(&mut self) {
        self.made = 0;
    }

    /// The matching of cell `c` where `ignored(g)` says which of its ground truths (cell
    /// positions) are ignored: made now, or found among those made for this cell.
    fn run(
        &mut self,
        params: &Params,
        c: &Cell,
        gt: &Anns,
        dt: &Anns,
        ignored: impl Fn(usize) -> bool,
    ) -> &Matching {
        let (ng, nd) = (c.gt.len(), c.dt.len());
        self.flags.clear();
        self.flags.extend((0..ng).map(&ignored));
        if let Some(k) = self.memo[..self.made]
            .iter()
            .position(|m| m.flags == self.flags)
        {
            return &self.memo[k];
        }
        if self.made == self.memo.len() {
            self.memo.push(Matching::default());
        }
        let k = self.made;
        self.made += 1;
        let Matcher {
            memo,
            flags,
            crowd,
            ious,
            taken,
            stamp,
            reach,
            ..
        } = self;
        let m = &mut memo[k];
        std::mem::swap(&mut m.flags, flags);
        m.order.clear();
        m.order
            .extend((0..ng as u32).filter(|&g| !m.flags[g as usize]));
        m.order
            .extend((0..ng as u32).filter(|&g| m.flags[g as usize]));
        m.ignore.clear();
        m.ignore
            .extend(m.order.iter().map(|&g| m.flags[g as usize]));
        m.matched.clear();
        m.matched.resize(params.iou_thrs.len() * nd, NONE);
        if c.ious.is_empty() {
            return &memo[k];
        }
        crowd.clear();
        crowd.extend(m.order.iter().map(|&g| gt.crowd[c.gt[g as usize] as usize]));
        ious.clear();
        for d in 0..nd {
            ious.extend(m.order.iter().map(|&g| c.ious[g as usize * nd + d]));
        }
        if taken.len() < ng {
            taken.resize(ng, 0);
        }
        // Without crowds, a threshold's matching is over once every ground truth is taken:
        // the remaining detections can match nothing (the crowded cells of many detections).
        let any_crowd = crowd.iter().any(|&c| c);
        // Without NaN IoUs, a threshold's matching depends on its start only through the set
        // of IoUs that reach it (`v >= start`): below it a value is never taken (the best so
        // far never drops below the start), and among those above the loop compares values
        // with each other only. These sets are nested, so two thresholds whose counts agree
        // have the same set and the same matching: it is copied, not made again (a count of 0
        // matches nothing). A NaN IoU, once taken, lets lower values in: no sharing then.
        let nan_free = !ious.iter().any(|v| v.is_nan());
        reach.clear();
        for (t, &thr) in params.iou_thrs.iter().enumerate() {
            let start = start_of(thr);
            reach.push(NO_COUNT);
            if nan_free && !start.is_nan() {
                let n = ious.iter().filter(|&&v| v >= start).count();
                if n == 0 {
                    continue;
                }
                reach[t] = n;
                if let Some(u) = reach[..t].iter().position(|&r| r == n) {
                    m.matched.copy_within(u * nd..(u + 1) * nd, t * nd);
                    continue;
                }
            }
            *stamp = stamp.wrapping_add(1);
            if *stamp == 0 {
                // Stamps wrapped around: forget them all once.
                taken.fill(0);
                *stamp = 1;
            }
            let mut free = ng;
            for (d, &drow) in c.dt.iter().enumerate() {
                if free == 0 && !any_crowd {
                    break;
                }
                let row = &ious[d * ng..(d + 1) * ng];
                let mut best = start;
                let mut found = NONE;
                for (j, &v) in row.iter().enumerate() {
                    // Already matched (to a detection id > 0) and not a crowd: skip.
                    if taken[j] == *stamp && !crowd[j] {
                        continue;
                    }
                    // Matched to a regular gt and reached the ignored ones: stop.
                    if found != NONE && !m.ignore[found as usize] && m.ignore[j] {
                        break;
                    }
                    // Only a smaller IoU is skipped: on equal IoU the later gt wins (and a
                    // NaN IoU matches, as in pycocotools).
                    if v < best {
                        continue;
                    }
                    best = v;
                    found = j as u32;
                }
                if found != NONE {
                    m.matched[t * nd + d] = found;
                    // pycocotools' `gtm > 0` test reads the detection's id.
                    if dt.id[drow as usize] > 0 {
                        // A taken gt is found again only if it is a crowd.
                        free -= usize::from(taken[found as usize] != *stamp);
                        taken[found as usize] = *stamp;
                    }
                }
            }
        }
        &memo[k]
    }
}

/// The matching of cell `c` at every area range, kept compact: detection statuses into
/// `status` (A x D x T: a detection's thresholds side by side, as accumulate reads them) and
/// the number of not-ignored ground truths per area range, returned.
pub(super) fn match_cell(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    matcher: &mut Matcher,
    status: &mut Vec<u8>,
) -> smallvec::SmallVec<[u32; 4]> {
    let (nd, nt) = (c.dt.len(), params.iou_thrs.len());
    status.clear();
    status.resize(params.area_rng.len() * nt * nd, IGNORED);
    let mut npig = smallvec::SmallVec::new();
    if nd == 0 || nt == 0 {
        // Ground truth only (or no thresholds): nothing to match, only the not-ignored count.
        npig.extend(
            params
                .area_rng
                .iter()
                .map(|&rng| c.gt.iter().filter(|&&g| !gt_ignored(gt, g, rng)).count() as u32),
        );
        return npig;
    }
    if nd == 1 && c.gt.len() == 1 {
        one_by_one(params, c, gt, dt, status, &mut npig);
        return npig;
    }
    match_general(params, c, gt, dt, matcher, status, &mut npig);
    npig
}

/// [`match_cell`] through the general matcher (`status` already sized and cleared).
fn match_general(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    matcher: &mut Matcher,
    status: &mut [u8],
    npig: &mut smallvec::SmallVec<[u32; 4]>,
) {
    let (nd, nt) = (c.dt.len(), params.iou_thrs.len());
    matcher.new_cell();
    let mut on_match: smallvec::SmallVec<[Option<u8>; 16]> = smallvec::SmallVec::new();
    for (a, &rng) in params.area_rng.iter().enumerate() {
        let block = &mut status[a * nt * nd..(a + 1) * nt * nd];
        // A detection left unmatched (or matched to a ground truth of id 0, which reads as
        // unmatched) is ignored outside the area range: the same at every threshold.
        for (row, &d) in block.chunks_exact_mut(nt).zip(&c.dt) {
            row.fill(if outside(dt.area[d as usize], rng) {
                IGNORED
            } else {
                FALSE_POSITIVE
            });
        }
        if c.gt.is_empty() {
            // Detections only: all unmatched.
            npig.push(0);
            continue;
        }
        let m = matcher.run(params, c, gt, dt, |g| gt_ignored(gt, c.gt[g], rng));
        npig.push(m.ignore.iter().filter(|&&g| !g).count() as u32);
        if m.matched.iter().all(|&j| j == NONE) {
            // Nothing matched at any threshold: every detection stays unmatched.
            continue;
        }
        // What a match with each ground truth (position in `order`) makes of a detection:
        // ignored, a true positive, or unchanged (id 0 reads as unmatched).
        on_match.clear();
        on_match.extend(m.ignore.iter().enumerate().map(|(j, &ignored)| {
            if ignored {
                Some(IGNORED)
            } else if m.gt_id(c, gt, j as u32) != 0 {
                Some(TRUE_POSITIVE)
            } else {
                None
            }
        }));
        for (t, matched) in m.matched.chunks_exact(nd).enumerate() {
            for (d, &j) in matched.iter().enumerate() {
                if let Some(&Some(s)) = on_match.get(j as usize) {
                    block[d * nt + t] = s;
                }
            }
        }
    }
}

/// [`match_cell`] of a cell with one detection and one ground truth (most cells of an
/// Objects365-sized evaluation), without the general matcher: at each threshold the
/// detection takes the ground truth unless its IoU is below the start `min(t, 1 - 1e-10)` (a
/// NaN IoU or start matches, as in pycocotools); none is taken before it, so crowds and ids
/// change nothing but the status a match gives (ignored, or unmatched for ground-truth id 0).
fn one_by_one(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    status: &mut [u8],
    npig: &mut smallvec::SmallVec<[u32; 4]>,
) {
    let nt = params.iou_thrs.len();
    let (g, d) = (c.gt[0], c.dt[0] as usize);
    // No IoU (keypoints without use_cats): nothing matches.
    let iou = c.ious.first().copied();
    for (block, &rng) in status.chunks_exact_mut(nt).zip(&params.area_rng) {
        let ignored = gt_ignored(gt, g, rng);
        let unmatched = if outside(dt.area[d], rng) {
            IGNORED
        } else {
            FALSE_POSITIVE
        };
        let matched = if ignored {
            IGNORED
        } else if gt.id[g as usize] != 0 {
            TRUE_POSITIVE
        } else {
            unmatched
        };
        for (s, &thr) in block.iter_mut().zip(&params.iou_thrs) {
            let start = start_of(thr);
            // The general loop's `if v < best: continue` (false for NaN).
            let below = iou.is_none_or(|v| v < start);
            *s = if below { unmatched } else { matched };
        }
        npig.push(u32::from(!ignored));
    }
}

/// `evaluateImg(imgId, catId, aRng, maxDet)` for cell `c`.
pub(super) fn evaluate_img(
    params: &Params,
    c: &Cell,
    gt: &Anns,
    dt: &Anns,
    rng: [f64; 2],
) -> EvalImg {
    let mut matcher = Matcher::default();
    let m = matcher.run(params, c, gt, dt, |g| gt_ignored(gt, c.gt[g], rng));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Geometry, IouType};
    use crate::test_rng::Rng;
    use std::sync::Arc;

    /// evaluateImg's loop as pycocotools writes it, for one set of ignore flags: per
    /// (threshold, detection), the position in the not-ignored-first order of the ground
    /// truth matched, or NONE.
    fn greedy(
        thrs: &[f64],
        ious: &[f64],
        (nd, ng): (usize, usize),
        ignore: &[bool],
        crowd: &[bool],
        dt_ids: &[i64],
    ) -> Vec<u32> {
        let order: Vec<usize> = (0..ng)
            .filter(|&g| !ignore[g])
            .chain((0..ng).filter(|&g| ignore[g]))
            .collect();
        let mut out = vec![NONE; thrs.len() * nd];
        for (t, &thr) in thrs.iter().enumerate() {
            let mut gtm = vec![0i64; ng];
            for d in 0..nd {
                let mut iou = start_of(thr);
                let mut m: Option<usize> = None;
                for (j, &g) in order.iter().enumerate() {
                    if gtm[j] > 0 && !crowd[g] {
                        continue;
                    }
                    if m.is_some_and(|m| !ignore[order[m]]) && ignore[g] {
                        break;
                    }
                    if ious[g * nd + d] < iou {
                        continue;
                    }
                    iou = ious[g * nd + d];
                    m = Some(j);
                }
                if let Some(m) = m {
                    out[t * nd + d] = m as u32;
                    gtm[m] = dt_ids[d];
                }
            }
        }
        out
    }

    #[test]
    fn shared_thresholds_match_as_the_plain_loop() {
        let mut rng = Rng::new(11);
        let values = [
            f64::NAN,
            -f64::INFINITY,
            0.0,
            0.3,
            0.5,
            0.55,
            0.62,
            0.75,
            0.9,
            1.0,
        ];
        let thr_values = [f64::NAN, 0.5, 0.55, 0.6, 0.7, 0.75, 0.9, 0.95, 1.0];
        let mut shared = 0;
        for case in 0..20_000u64 {
            let mut below = |m: u64| rng.below(m) as usize;
            let (nd, ng) = (1 + below(6), 1 + below(5));
            let nan_ok = case % 4 == 0;
            let mut pick = |v: &[f64]| loop {
                let x = v[below(v.len() as u64)];
                if nan_ok || !x.is_nan() {
                    break x;
                }
            };
            let nt = 1 + (case % 10) as usize;
            let mut thrs: Vec<f64> = (0..nt).map(|_| pick(&thr_values)).collect();
            if case % 3 == 0 {
                thrs.sort_by(f64::total_cmp);
            }
            let ious: Vec<f64> = (0..nd * ng).map(|_| pick(&values)).collect();
            let ignore: Vec<bool> = (0..ng).map(|_| below(4) == 0).collect();
            let crowd: Vec<bool> = (0..ng).map(|_| below(5) == 0).collect();
            let dt_ids: Vec<i64> = (0..nd).map(|_| [0, 1, 7][below(3)]).collect();
            let mut gt = Anns::empty(IouType::Bbox);
            gt.id = (1..=ng as i64).collect();
            gt.crowd = crowd.clone();
            let mut dt = Anns::empty(IouType::Bbox);
            dt.id = dt_ids.clone();
            let cell = Cell {
                gt: (0..ng as u32).collect(),
                dt: (0..nd as u32).collect(),
                ious: ious.iter().copied().collect(),
                ..Default::default()
            };
            let params = Params {
                iou_type: IouType::Bbox,
                img_ids: vec![1],
                cat_ids: vec![1],
                use_cats: true,
                iou_thrs: thrs.clone(),
                area_rng: vec![[0.0, 1e10]],
                max_det: 100,
                kpt_oks_sigmas: Vec::new(),
            };
            let mut matcher = Matcher::default();
            let m = matcher.run(&params, &cell, &gt, &dt, |g| ignore[g]);
            let want = greedy(&thrs, &ious, (nd, ng), &ignore, &crowd, &dt_ids);
            assert_eq!(m.matched, want, "case {case}: {thrs:?} {ious:?} {ignore:?}");
            // Cases where some threshold took the shortcut (a count of 0, or one seen before).
            let mut counts: Vec<usize> = thrs
                .iter()
                .map(|&t| ious.iter().filter(|&&v| v >= start_of(t)).count())
                .collect();
            let plain = ious.iter().chain(&thrs).all(|v| !v.is_nan());
            counts.sort_unstable();
            counts.dedup();
            shared += usize::from(plain && (counts.len() < nt || counts[0] == 0));
        }
        assert!(shared > 1000, "{shared}");
    }

    #[test]
    fn one_by_one_equals_the_general_matcher() {
        let mut rng = Rng::new(7);
        let mut pick = |v: &[f64]| v[rng.below(v.len() as u64) as usize];
        let edges = [
            f64::NAN,
            -0.0,
            0.0,
            0.3,
            0.5,
            0.55,
            0.75,
            1.0 - 1e-10,
            1.0,
            2.0,
        ];
        let areas = [0.0, 32.0 * 32.0, 50.0, 96.0 * 96.0, 1e10, f64::NAN];
        for case in 0..4000 {
            let nt = 1 + case % 11;
            let thrs: Vec<f64> = (0..nt).map(|_| pick(&edges)).collect();
            let area_rng = vec![
                [0.0, 1e10],
                [pick(&areas), pick(&areas)],
                [32.0 * 32.0, 96.0 * 96.0],
            ];
            let params = Params {
                iou_type: IouType::Bbox,
                img_ids: vec![1],
                cat_ids: vec![1],
                use_cats: true,
                iou_thrs: thrs,
                area_rng,
                max_det: 100,
                kpt_oks_sigmas: Vec::new(),
            };
            let mut gt = Anns::empty(IouType::Bbox);
            let mut dt = Anns::empty(IouType::Bbox);
            let crowd = case % 7 == 0;
            gt.id = vec![if case % 13 == 0 { 0 } else { 5 }];
            gt.image_id = vec![1];
            gt.category_id = vec![1];
            gt.area = Arc::new(vec![pick(&areas)]);
            gt.crowd = vec![crowd];
            gt.ignore = vec![crowd || case % 5 == 0];
            gt.geometry = Geometry::Boxes(Arc::new(vec![[0.0; 4]]));
            dt.id = vec![if case % 17 == 0 { 0 } else { 3 }];
            dt.image_id = vec![1];
            dt.category_id = vec![1];
            dt.area = Arc::new(vec![pick(&areas)]);
            dt.score = Arc::new(vec![0.5]);
            dt.geometry = Geometry::Boxes(Arc::new(vec![[0.0; 4]]));
            let mut cell = Cell::default();
            cell.gt.push(0);
            cell.dt.push(0);
            if case % 19 != 0 {
                // (No IoU at all: keypoints without use_cats.)
                cell.ious.push(pick(&edges));
            }
            let na = params.area_rng.len();
            let mut fast = vec![IGNORED; na * nt];
            let mut general = vec![IGNORED; na * nt];
            let (mut nf, mut ng) = (smallvec::SmallVec::new(), smallvec::SmallVec::new());
            one_by_one(&params, &cell, &gt, &dt, &mut fast, &mut nf);
            let mut matcher = Matcher::default();
            match_general(
                &params,
                &cell,
                &gt,
                &dt,
                &mut matcher,
                &mut general,
                &mut ng,
            );
            assert_eq!(
                fast, general,
                "case {case}: {:?} {:?}",
                params.iou_thrs, cell.ious
            );
            assert_eq!(nf, ng, "case {case}");
        }
    }
}
