//! `computeOks`: object keypoint similarity of every detection with every ground truth of a
//! cell, as pycocotools computes it with numpy.
//!
//! Two parity rules live here. (1) `np.exp`: numpy's AVX-512F `exp` differs from libm's by
//! one ulp on a few percent of inputs, so the exponents of every pair are handed to the
//! caller's `exp`, a batch of cells at a time (the Python binding passes `np.exp` itself, which
//! is then exact on whatever CPU numpy picks its kernel for). (2) `np.sum` is numpy's pairwise
//! summation, replicated by [`pairwise_sum`].
//!
//! Two shortcuts leave the numbers unchanged: exponents whose `exp` is 0 in every
//! implementation are not handed to `exp` ([`underflows`]), and pairs too far apart to reach
//! any threshold get no OKS during evaluate ([`Far`]; matching skips them as it would skip
//! their exact values, and `ious` computes those on request).

use rayon::prelude::*;

use super::cells::Cell;
use super::matching;
use super::{Anns, Exp, Geometry, Keypoints, Params};
use crate::error::{Error, Result};
use crate::parallel;

/// numpy's pairwise summation of float64 (`np.sum` over a contiguous array): a plain loop
/// below 8 values, eight interleaved accumulators up to 128, halves split at a multiple of 8
/// above. The reduction starts from the identity 0.
pub fn pairwise_sum(a: &[f64]) -> f64 {
    0.0 + pairwise(a)
}

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// `np.max((z, v), axis=0)` for one element: NaN propagates, otherwise the larger.
fn max0(v: f64) -> f64 {
    if v.is_nan() || v > 0.0 {
        v
    } else {
        0.0
    }
}

/// One ground truth as computeOks reads it: its keypoints (x, y, v triples), whether any is
/// visible (`k1 > 0`), its `area + np.spacing(1)` and the box grown by its size on each side
/// (`x0, x1, y0, y1`), used when none is visible.
struct Truth<'a> {
    g: &'a [f64],
    has_visible: bool,
    denom: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl<'a> Truth<'a> {
    /// The ground truth of keypoints `g` (`has_visible`: [`Keypoints::any_visible`] of them, passed in
    /// so that making a truth does not read its keypoints), box `bb` and area `area`.
    fn new(g: &'a [f64], bb: &[f64; 4], area: f64, has_visible: bool) -> Truth<'a> {
        Truth {
            g,
            has_visible,
            denom: area + f64::EPSILON,
            x0: bb[0] - bb[2],
            x1: bb[0] + bb[2] * 2.0,
            y0: bb[1] - bb[3],
            y1: bb[1] + bb[3] * 2.0,
        }
    }

    /// The box the distances of [`Gathered::distances`] are measured from: that of the
    /// visible keypoints, or the grown box when none is visible; None where the bound of
    /// [`Far::boxes_far`] does not hold (a coordinate or `area + eps` not finite, or that
    /// not positive).
    fn extent(&self) -> Option<Extent> {
        if !(self.denom > 0.0 && self.denom.is_finite()) {
            return None;
        }
        if self.has_visible {
            let visible = self.g.chunks_exact(3).filter(|t| Keypoints::visible(t[2]));
            Extent::of(visible.map(|t| (t[0], t[1])))
        } else {
            Extent::of([(self.x0, self.y0), (self.x1, self.y1)].into_iter())
        }
    }

    /// `dx**2 + dy**2` of keypoint `j` of detection `d`, or None where numpy leaves it out
    /// (not visible while the ground truth has visible keypoints): the definition, which
    /// [`Gathered::distances`] computes for all keypoints at once.
    #[cfg(test)]
    fn squared_distance(&self, j: usize, d: &[f64]) -> Option<f64> {
        let (g, xd, yd) = (self.g, d[3 * j], d[3 * j + 1]);
        let (dx, dy) = if self.has_visible {
            if !Keypoints::visible(g[3 * j + 2]) {
                return None;
            }
            (xd - g[3 * j], yd - g[3 * j + 1])
        } else {
            (
                max0(self.x0 - xd) + max0(xd - self.x1),
                max0(self.y0 - yd) + max0(yd - self.y1),
            )
        };
        Some(dx * dx + dy * dy)
    }
}

/// Appends the (negated) exponents `-e` of one (detection, ground truth) pair, in the order
/// numpy builds `e`: the definition [`Gathered`] computes faster (and the tests' reference).
#[cfg(test)]
fn push_exponents(out: &mut Vec<f64>, vars: &[f64], truth: &Truth<'_>, d: &[f64]) {
    for (j, &var) in vars.iter().enumerate() {
        if let Some(q) = truth.squared_distance(j, d) {
            // `(dx**2 + dy**2) / vars / (area + eps) / 2`, negated for `np.exp(-e)`.
            out.push(-(q / var / truth.denom / 2.0));
        }
    }
}

/// One ground truth as every pair with it reads it, gathered once (buffers reused from one
/// ground truth to the next): the keypoints numpy uses (the visible ones, or all of them
/// when none is visible), their variances and far thresholds ([`Far::thresholds`]), and the
/// squared distances of the pair at hand. Per pair, the distances come first (no division);
/// a far pair stops there, and the others divide them into exponents: the same operations,
/// in the same order, as `Truth::squared_distance` and `push_exponents`.
#[derive(Default)]
struct Gathered {
    used: Vec<usize>,
    vars: Vec<f64>,
    thresholds: Vec<f64>,
    q: Vec<f64>,
}

impl Gathered {
    /// Gathers `truth` (`far`: the test the thresholds are for, if any).
    fn gather(&mut self, truth: &Truth<'_>, vars: &[f64], far: Option<&Far>) {
        self.used.clear();
        if truth.has_visible {
            let visible = truth.g.chunks_exact(3).map(|t| Keypoints::visible(t[2]));
            self.used
                .extend(visible.enumerate().filter(|&(_, v)| v).map(|(j, _)| j));
        } else {
            self.used.extend(0..vars.len());
        }
        self.vars.clear();
        self.vars.extend(self.used.iter().map(|&j| vars[j]));
        self.thresholds.clear();
        if let Some(f) = far {
            f.thresholds(truth, &self.vars, &mut self.thresholds);
        }
    }

    /// The squared distances of the pair with detection `d` (`dx**2 + dy**2` of each used
    /// keypoint), into `self.q`.
    fn distances(&mut self, truth: &Truth<'_>, d: &[f64]) {
        self.q.clear();
        let g = truth.g;
        if truth.has_visible {
            self.q.extend(self.used.iter().map(|&j| {
                let (dx, dy) = (d[3 * j] - g[3 * j], d[3 * j + 1] - g[3 * j + 1]);
                dx * dx + dy * dy
            }));
        } else {
            self.q.extend(d.chunks_exact(3).map(|t| {
                let (xd, yd) = (t[0], t[1]);
                let dx = max0(truth.x0 - xd) + max0(xd - truth.x1);
                let dy = max0(truth.y0 - yd) + max0(yd - truth.y1);
                dx * dx + dy * dy
            }));
        }
    }

    /// Whether the distances prove the pair far: every one above its threshold (a NaN
    /// distance is not). False without thresholds.
    fn far_by_distances(&self) -> bool {
        !self.thresholds.is_empty()
            && !self.q.is_empty()
            && self.q.iter().zip(&self.thresholds).all(|(&q, &t)| q > t)
    }

    /// Appends the pair's negated exponents (as `push_exponents` writes them).
    fn push_exponents(&self, denom: f64, out: &mut Vec<f64>) {
        // `(dx**2 + dy**2) / vars / (area + eps) / 2`, negated for `np.exp(-e)`.
        out.extend(
            self.q
                .iter()
                .zip(&self.vars)
                .map(|(&q, &var)| -(q / var / denom / 2.0)),
        );
    }
}

/// Exponents below this are not handed to `exp`: their `exp` is exactly 0 in libm and in
/// numpy's SIMD kernels alike (both return 0 below -745.1332..., where the true value rounds
/// to 0; -746 keeps clear of that edge). Far pairs are mostly such values (about half of all
/// exponents on COCO-like data), and libm's underflow path is its slowest. NaN is not
/// skipped: its `exp` is NaN.
fn underflows(v: f64) -> bool {
    v < -746.0
}

/// Marks, in a cell's pair lengths, a pair left out by [`Far`].
const FAR: usize = usize::MAX;

/// Which pairs cannot reach the smallest threshold, so that matching needs no exact OKS of
/// them (the greedy loop skips a pair below every threshold as it would skip one at -inf).
/// OKS is a mean of `exp(-e)` terms: if every `e` of a pair exceeds `limit`, every term, and
/// so the mean, stays below the smallest threshold. Three tests decide it, cheapest first:
/// - boxes ([`Far::boxes_far`]): a few operations per pair settle most far pairs (21.5k of
///   38.8k on the benchmark's keypoints set, people of one image far apart), without
///   reading the keypoints;
/// - squared distances against per-keypoint thresholds ([`Far::thresholds`]), no division:
///   most pairs the boxes keep (7.2k there: one stray keypoint widens a detection's box);
/// - the exact exponents, for the rest (computed anyway): far if all exceed the limit.
///
/// Anything unusual (NaN, non-positive variances, a threshold NaN or not in (0, 1)) keeps
/// the exact OKS of every pair. Their exact values are computed again if someone reads
/// `ious` ([`cell_oks`]).
struct Far {
    /// `-ln(s * (1 - 1e-6))` for the smallest threshold `s`: a term `exp(-e)` with `e`
    /// above it stays 1e-6 below `s`, more than any rounding of `exp` or of the mean.
    limit: f64,
    /// The largest of `vars`.
    max_var: f64,
}

impl Far {
    fn new(params: &Params, vars: &[f64]) -> Option<Far> {
        let mut smallest = f64::INFINITY;
        for s in params.iou_thrs.iter().map(|&t| matching::start_of(t)) {
            if !(s > 0.0 && s < 1.0) {
                return None;
            }
            smallest = smallest.min(s);
        }
        let usable =
            !vars.is_empty() && smallest < 1.0 && vars.iter().all(|&v| v > 0.0 && v.is_finite());
        usable.then(|| Far {
            limit: -(smallest * (1.0 - 1e-6)).ln(),
            max_var: vars.iter().copied().fold(0.0, f64::max),
        })
    }

    /// Whether the boxes of a pair prove it far. Every keypoint `j` numpy uses has
    /// `|dx| >= gap_x` and `|dy| >= gap_y`, the gaps between the detection's box and the
    /// ground truth's ([`Truth::extent`]) along each axis, so its `e` is at least
    /// `(gap_x**2 + gap_y**2) / max_var / (area + eps) / 2`. Computed with the same
    /// operations in the same order as `e`, the bound keeps that order after rounding
    /// (each rounded operation is monotone in its operands, and the divisors are positive),
    /// so `bound > limit` implies every `e > limit` exactly as computed.
    fn boxes_far(&self, truth: &Truth<'_>, g: &Extent, d: &Extent) -> bool {
        // For the grown box (no visible keypoint) `dx` is `max0(x0 - xd) + max0(xd - x1)`,
        // at least the same gaps.
        let gap = |g0: f64, g1: f64, d0: f64, d1: f64| max0(g0 - d1).max(max0(d0 - g1));
        let (gx, gy) = (gap(g.x0, g.x1, d.x0, d.x1), gap(g.y0, g.y1, d.y0, d.y1));
        let bound = (gx * gx + gy * gy) / self.max_var / truth.denom / 2.0;
        bound > self.limit
    }

    /// Whether exponents `-e` (as `push_exponents` writes them) make a far pair.
    fn exponents_far(&self, negated: &[f64]) -> bool {
        !negated.is_empty() && negated.iter().all(|&v| v < -self.limit)
    }

    /// Per used keypoint (variance `var_j`), a squared distance above which `e_j > limit`
    /// holds as `e_j` is computed: `limit * 2 * var_j * (area + eps) * (1 + 1e-9)`. `e_j` is
    /// `q / var_j / denom / 2`: two roundings of relative error at most 2^-53 each (the
    /// halving is exact), and the products here three more (and `1 + 1e-9` one), so
    /// `q > threshold` gives `e_j >= limit * (1 + 1e-9) * (1 - 8 * 2^-53) > limit`. Those
    /// error bounds hold for normal numbers only (a subnormal product can lose most of its
    /// digits: a variance of 5e-324 did, in review): so every product here must be normal,
    /// and `e_j`'s roundings then are too (`e_j > limit` makes its quotients large). Into
    /// `out`, left empty otherwise, or where `area + eps` is not positive and finite: the
    /// exponents decide then.
    fn thresholds(&self, truth: &Truth<'_>, vars: &[f64], out: &mut Vec<f64>) {
        out.clear();
        if !(truth.denom > 0.0 && truth.denom.is_finite()) {
            return;
        }
        let scale = self.limit * 2.0;
        let mut normal = scale.is_normal();
        out.extend(vars.iter().map(|&var| {
            let a = scale * var;
            let b = a * truth.denom;
            let t = b * (1.0 + 1e-9);
            normal &= a.is_normal() && b.is_normal() && t.is_normal();
            t
        }));
        if !normal {
            out.clear();
        }
    }
}

/// The box of some keypoints (`x0..=x1` by `y0..=y1`).
#[derive(Debug, Clone, Copy)]
struct Extent {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Extent {
    /// The box of `points`; None where there are none or a coordinate is not finite (the
    /// bound's arithmetic assumes finite values: NaN must reach the exact OKS).
    fn of(points: impl Iterator<Item = (f64, f64)>) -> Option<Extent> {
        let inf = f64::INFINITY;
        let mut e = Extent {
            x0: inf,
            x1: -inf,
            y0: inf,
            y1: -inf,
        };
        // Branch-free (keypoints come in no order): a NaN or infinity anywhere makes `probe`
        // NaN (`x * 0`), and comparisons that keep the old bound on NaN stay well defined.
        let mut probe = 0.0;
        for (x, y) in points {
            probe += x * 0.0 + y * 0.0;
            e.x0 = if x < e.x0 { x } else { e.x0 };
            e.x1 = if x > e.x1 { x } else { e.x1 };
            e.y0 = if y < e.y0 { y } else { e.y0 };
            e.y1 = if y > e.y1 { y } else { e.y1 };
        }
        // No points leaves x0 infinite.
        (probe == 0.0 && e.x0.is_finite()).then_some(e)
    }

    /// The box of a detection's keypoints (all `k` of them: a superset of those any ground
    /// truth reads).
    fn of_detection(d: &[f64]) -> Option<Extent> {
        Extent::of(d.chunks_exact(3).map(|t| (t[0], t[1])))
    }
}

/// A ground-truth row's [`Keypoints::any_visible`] and [`Truth::extent`].
type GtSummary = (bool, Option<Extent>);

/// One cell's exponents, and how many each (ground truth, detection) pair has ([`FAR`] for
/// a pair left out).
type Exponents = (Vec<f64>, Vec<usize>);

/// The keypoints of both sides, with `vars = (sigmas * 2)**2`.
struct Sides<'a> {
    gk: &'a Keypoints,
    gboxes: &'a [[f64; 4]],
    dk: &'a Keypoints,
    vars: Vec<f64>,
}

impl<'a> Sides<'a> {
    fn of(params: &Params, gt: &'a Anns, dt: &'a Anns) -> Option<Sides<'a>> {
        let (Geometry::Keypoints(gk, gboxes), Geometry::Keypoints(dk, _)) =
            (&gt.geometry, &dt.geometry)
        else {
            return None;
        };
        let vars = params
            .kpt_oks_sigmas
            .iter()
            .map(|s| (s * 2.0) * (s * 2.0))
            .collect();
        Some(Sides {
            gk,
            gboxes,
            dk,
            vars,
        })
    }

    /// Each detection's box ([`Extent::of_detection`]) and each ground truth's visibility and
    /// box ([`GtSummary`]), by row, for the rows of `cells` with pairs (a few images of a
    /// large file read a few of its rows; the others stay None), in passes over the rows in
    /// the order their keypoints lie in memory: cells read them in image order, scattered
    /// through the rows, and each first read there missed the cache (a quarter of the
    /// exponents' time on the benchmark's keypoints set). Then only the pairs the boxes keep
    /// read keypoints in cell order.
    fn far_tests(
        &self,
        cells: &[Cell],
        gt: &Anns,
        parallel: bool,
    ) -> (Vec<Option<Extent>>, Vec<GtSummary>) {
        let (mut g_used, mut d_used) = (vec![false; self.gboxes.len()], vec![false; self.dk.len()]);
        for c in cells
            .iter()
            .filter(|c| !c.gt.is_empty() && !c.dt.is_empty())
        {
            c.gt.iter().for_each(|&g| g_used[g as usize] = true);
            c.dt.iter().for_each(|&d| d_used[d as usize] = true);
        }
        let extent = |d: usize| {
            d_used[d]
                .then(|| Extent::of_detection(self.dk.of(d)))
                .flatten()
        };
        let summary = |g: usize| -> GtSummary {
            if !g_used[g] {
                return (false, None);
            }
            let kps = self.gk.of(g);
            let has_visible = Keypoints::any_visible(kps);
            let truth = Truth::new(kps, &self.gboxes[g], gt.area[g], has_visible);
            (has_visible, truth.extent())
        };
        let (nd, ng) = (d_used.len(), g_used.len());
        if parallel {
            parallel::install(|| {
                rayon::join(
                    || (0..nd).into_par_iter().map(extent).collect(),
                    || (0..ng).into_par_iter().map(summary).collect(),
                )
            })
        } else {
            (
                (0..nd).map(extent).collect(),
                (0..ng).map(summary).collect(),
            )
        }
    }

    /// Every pair of `cell` needs 3k values on both sides, where computeOks reads them: a
    /// ground truth without a visible keypoint is measured from its box, whatever its list
    /// (even empty), but must have one (computeOks reads `gt['keypoints']`). The error names
    /// the row computeOks would fail on first (ground truth outer, detections inner).
    fn check_lengths(&self, cell: &Cell, gt: &Anns, dt: &Anns) -> Result<()> {
        let k = self.vars.len();
        if cell.gt.is_empty() || cell.dt.is_empty() {
            return Ok(());
        }
        let wrong = |what: &str, row: usize, id: i64, n: usize| {
            Error::Eval(format!(
                "{what} row {row} (id {id}) has {n} keypoint values; kpt_oks_sigmas needs {}",
                3 * k
            ))
        };
        let len_g = |i: usize| self.gk.of(cell.gt[i] as usize).len();
        let len_d = |i: usize| self.dk.of(cell.dt[i] as usize).len();
        let bad_g = (0..cell.gt.len()).find(|&i| {
            let g = cell.gt[i] as usize;
            let values = self.gk.of(g);
            self.gk.is_absent(g) || (values.len() != 3 * k && Keypoints::any_visible(values))
        });
        let bad_d = (0..cell.dt.len()).find(|&i| len_d(i) != 3 * k);
        if let Some(i) = bad_g.filter(|&i| i == 0 || bad_d.is_none()) {
            let g = cell.gt[i] as usize;
            return Err(wrong("ground-truth", g, gt.id[g], len_g(i)));
        }
        if let Some(i) = bad_d {
            let d = cell.dt[i] as usize;
            return Err(wrong("detection", d, dt.id[d], len_d(i)));
        }
        Ok(())
    }

    /// The exponents of every pair of `cell` (ground truth outer, as computeOks loops),
    /// appended to `out` with each pair's count, leaving out the pairs `far` finds far
    /// (`d_extents`: each detection row's box, for its test; `g_summaries`: each ground-truth
    /// row's [`Keypoints::any_visible`] and [`Truth::extent`]; both empty without a test). A cell
    /// without ground truth or without detections has no pairs. The caller has checked the
    /// cell's lengths ([`Self::check_lengths`]).
    fn exponents(
        &self,
        cell: &Cell,
        gt: &Anns,
        far: Option<&Far>,
        (d_extents, g_summaries): (&[Option<Extent>], &[GtSummary]),
        gathered: &mut Gathered,
        out: &mut Exponents,
    ) -> Result<()> {
        let (buf, lens) = out;
        if cell.gt.is_empty() || cell.dt.is_empty() {
            return Ok(());
        }
        let gts: smallvec::SmallVec<[&[f64]; 16]> =
            cell.gt.iter().map(|&g| self.gk.of(g as usize)).collect();
        let dts: smallvec::SmallVec<[&[f64]; 32]> =
            cell.dt.iter().map(|&d| self.dk.of(d as usize)).collect();
        for (&g, gv) in cell.gt.iter().zip(&gts) {
            let g = g as usize;
            let (has_visible, g_extent) = match g_summaries.get(g) {
                Some(&(v, e)) => (v, e),
                None => (Keypoints::any_visible(gv), None),
            };
            let truth = Truth::new(gv, &self.gboxes[g], gt.area[g], has_visible);
            // Gathered at the first pair the boxes keep: a truth all of whose pairs are far
            // by the boxes is never read.
            let mut is_gathered = false;
            for (di, dv) in dts.iter().enumerate() {
                let d_extent = d_extents.get(cell.dt[di] as usize);
                if let (Some(f), Some(ge), Some(Some(de))) = (far, &g_extent, d_extent) {
                    if f.boxes_far(&truth, ge, de) {
                        lens.push(FAR);
                        continue;
                    }
                }
                if !is_gathered {
                    gathered.gather(&truth, &self.vars, far);
                    is_gathered = true;
                }
                // Most pairs the boxes keep (a stray keypoint widens a detection's box) are
                // still far: told from the distances, before any division.
                gathered.distances(&truth, dv);
                if gathered.far_by_distances() {
                    lens.push(FAR);
                    continue;
                }
                let before = buf.len();
                gathered.push_exponents(truth.denom, buf);
                if far.is_some_and(|f| f.exponents_far(&buf[before..])) {
                    buf.truncate(before);
                    lens.push(FAR);
                } else {
                    lens.push(buf.len() - before);
                }
            }
        }
        Ok(())
    }
}

/// `exp` (numpy's, through Python) over `values`, in place, in one call: underflowing
/// exponents stay out of it and become 0 (`batch`: the values handed over, a reused buffer).
/// When [`compute`] runs in parallel it is called from the pool's threads: numpy releases the
/// GIL inside the ufunc's loop (its float64 `exp` is libm's, ~10 ns a value, unless the CPU
/// has AVX-512F), so the runs' calls proceed on every core; the caller must not hold the GIL
/// then.
fn exp_in_place(values: &mut [f64], batch: &mut Vec<f64>, exp: Exp<'_>) -> Result<()> {
    batch.clear();
    batch.extend(values.iter().copied().filter(|&v| !underflows(v)));
    // (Every value may underflow: nothing to call `exp` on, but the zeros are still written.)
    if !batch.is_empty() {
        exp(batch)?;
    }
    let mut done = batch.iter();
    for v in values.iter_mut() {
        *v = if underflows(*v) {
            0.0
        } else {
            done.next().copied().unwrap_or(f64::NAN)
        };
    }
    Ok(())
}

/// `np.sum(np.exp(-e)) / e.shape[0]` of each pair, D x G as computeOks's `ious[i, j]`; a far
/// pair reads -inf (below every threshold, which is all matching asks of it).
fn means(values: &[f64], lens: &[usize]) -> smallvec::SmallVec<[f64; 2]> {
    let mut at = 0;
    lens.iter()
        .map(|&n| {
            if n == FAR {
                return f64::NEG_INFINITY;
            }
            let v = pairwise_sum(&values[at..at + n]) / n as f64;
            at += n;
            v
        })
        .collect()
}

/// OKS of every cell with both ground truth and detections, into `cell.ious` (D x G); pairs
/// too far apart to match at any threshold are left out ([`Far`]).
pub(super) fn compute(
    params: &Params,
    cells: &mut [Cell],
    gt: &Anns,
    dt: &Anns,
    exp: Exp<'_>,
) -> Result<()> {
    let Some(sides) = Sides::of(params, gt, dt) else {
        return Ok(());
    };
    let far = Far::new(params, &sides.vars);
    let k = sides.vars.len();
    let work: usize = cells.iter().map(|c| c.gt.len() * c.dt.len() * k).sum();
    let parallel = parallel::worth_parallel(cells.len(), work);
    // Every cell's lengths checked before anything else, so that the error a bad length
    // gives does not depend on how the cells are split into runs below.
    for c in cells.iter() {
        sides.check_lengths(c, gt, dt)?;
    }
    let (d_extents, g_summaries) = match &far {
        Some(_) => sides.far_tests(cells, gt, parallel),
        None => (Vec::new(), Vec::new()),
    };
    // Runs of cells (several per thread, for balance), each done whole by one thread: its
    // cells' exponents into the thread's buffer, one `exp` call over them, then each cell's
    // pairs averaged into its `ious`. The exponents never leave the thread's cache or need
    // fresh memory (they were a megabyte and a half of it on the benchmark's keypoints set,
    // gathered in another pass for `exp`), and a run's call is large enough (several
    // thousand values) to make the Python call's cost small.
    let per_run = cells
        .len()
        .div_ceil(if parallel {
            8 * parallel::num_threads()
        } else {
            1
        })
        .max(1);
    let run = |scratch: &mut Scratch, run: &mut [Cell]| -> Result<()> {
        let Scratch {
            gathered,
            exponents,
            batch,
        } = scratch;
        exponents.0.clear();
        exponents.1.clear();
        let tests = (d_extents.as_slice(), g_summaries.as_slice());
        for cell in run.iter() {
            sides.exponents(cell, gt, far.as_ref(), tests, gathered, exponents)?;
        }
        exp_in_place(&mut exponents.0, batch, exp)?;
        // Each cell takes its pairs, G x D of them, in turn.
        let (values, lens) = &*exponents;
        let (mut at_value, mut at_pair) = (0, 0);
        for cell in run.iter_mut() {
            if cell.gt.is_empty() || cell.dt.is_empty() {
                continue;
            }
            let pairs = &lens[at_pair..at_pair + cell.gt.len() * cell.dt.len()];
            let n: usize = pairs.iter().filter(|&&l| l != FAR).sum();
            cell.ious = means(&values[at_value..at_value + n], pairs);
            cell.oks_far = pairs.contains(&FAR);
            at_pair += pairs.len();
            at_value += n;
        }
        Ok(())
    };
    // The first error in cell order (each run stops at its first).
    if parallel {
        let done: Vec<Result<()>> = parallel::install(|| {
            cells
                .par_chunks_mut(per_run)
                .map_init(Scratch::default, run)
                .collect()
        });
        done.into_iter().collect()
    } else {
        let mut scratch = Scratch::default();
        cells
            .chunks_mut(per_run)
            .try_for_each(|c| run(&mut scratch, c))
    }
}

/// One thread's buffers for [`compute`]'s runs: the gathered truth, a run's exponents with
/// each pair's count, and the values handed to `exp`.
#[derive(Default)]
struct Scratch {
    gathered: Gathered,
    exponents: Exponents,
    batch: Vec<f64>,
}

/// The exact OKS matrix of `cell` (D x G), every pair computed: what `ious` shows of a cell
/// whose far pairs [`compute`] left out.
pub(super) fn cell_oks(
    params: &Params,
    cell: &Cell,
    gt: &Anns,
    dt: &Anns,
    exp: Exp<'_>,
) -> Result<Vec<f64>> {
    let Some(sides) = Sides::of(params, gt, dt) else {
        return Ok(Vec::new());
    };
    sides.check_lengths(cell, gt, dt)?;
    let mut parts = [(Vec::new(), Vec::new())];
    let no_tests = (&[][..], &[][..]);
    sides.exponents(
        cell,
        gt,
        None,
        no_tests,
        &mut Gathered::default(),
        &mut parts[0],
    )?;
    let [(values, lens)] = &mut parts;
    exp_in_place(values, &mut Vec::new(), exp)?;
    Ok(means(values, lens).into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::IouType;
    use std::sync::Arc;

    fn libm_exp(buf: &mut [f64]) -> Result<()> {
        buf.iter_mut().for_each(|v| *v = v.exp());
        Ok(())
    }

    #[test]
    fn exp_in_place_skips_underflows_and_equals_each_value_alone() {
        // Only underflowing values: exp is not called, zeros written.
        let mut batch = Vec::new();
        let mut all_under = vec![-6.8e16, -1e300];
        let never = |_: &mut [f64]| -> Result<()> { Err(Error::Eval("called".into())) };
        exp_in_place(&mut all_under, &mut batch, &never).unwrap();
        assert_eq!(all_under, vec![0.0, 0.0]);
        // Mixed values (NaN and underflowing ones among them): each as `exp` alone gives it,
        // and no underflowing value reaches `exp`.
        let mut rng = crate::test_rng::Rng::new(0xe4b0);
        let values: Vec<f64> = (0..5000)
            .map(|_| match rng.below(50) {
                0 => f64::NAN,
                1 => -1e300,
                2 => -746.0,
                3 => -745.0,
                _ => -(rng.below(800_000) as f64) / 1000.0,
            })
            .collect();
        let seen = std::sync::Mutex::new(Vec::new());
        let watched = |b: &mut [f64]| {
            seen.lock().unwrap().extend_from_slice(b);
            libm_exp(b)
        };
        let mut got = values.clone();
        exp_in_place(&mut got, &mut batch, &watched).unwrap();
        assert!(seen.into_inner().unwrap().iter().all(|&v| !underflows(v)));
        for (a, b) in got.iter().zip(&values) {
            let want = if underflows(*b) { 0.0 } else { b.exp() };
            assert_eq!(a.to_bits(), want.to_bits());
        }
    }

    /// One image, one category: ground truth and detections with keypoints.
    fn sides(gts: &[(Vec<f64>, [f64; 4], f64)], dts: &[Vec<f64>]) -> (Anns, Anns) {
        let kp = |v: Vec<&Vec<f64>>| {
            let mut k = Keypoints::default();
            for x in v {
                k.push(x);
            }
            Arc::new(k)
        };
        let mut gt = Anns::empty(IouType::Keypoints);
        for (i, (_, _, area)) in gts.iter().enumerate() {
            gt.id.push(i as i64 + 1);
            gt.image_id.push(1);
            gt.category_id.push(1);
            Arc::make_mut(&mut gt.area).push(*area);
            gt.crowd.push(false);
            gt.ignore.push(false);
        }
        gt.geometry = Geometry::Keypoints(
            kp(gts.iter().map(|g| &g.0).collect()),
            gts.iter().map(|g| g.1).collect(),
        );
        let mut dt = Anns::empty(IouType::Keypoints);
        for (i, _) in dts.iter().enumerate() {
            dt.id.push(i as i64 + 1);
            dt.image_id.push(1);
            dt.category_id.push(1);
            Arc::make_mut(&mut dt.area).push(100.0);
            Arc::make_mut(&mut dt.score).push(1.0 - i as f64 * 0.1);
        }
        dt.geometry = Geometry::Keypoints(kp(dts.iter().collect()), Vec::new());
        (gt, dt)
    }

    #[test]
    fn far_pairs_are_left_out_and_computed_exactly_on_request() {
        let params = |thrs: Vec<f64>| Params {
            kpt_oks_sigmas: vec![0.1, 0.05],
            ..far_params(thrs)
        };
        // Two people far apart, two detections on them, one detection in between.
        let (gt, dt) = sides(
            &[
                (
                    vec![10.0, 10.0, 2.0, 12.0, 14.0, 1.0],
                    [5.0, 5.0, 10.0, 12.0],
                    90.0,
                ),
                (
                    vec![300.0, 300.0, 2.0, 0.0, 0.0, 0.0],
                    [295.0, 295.0, 10.0, 12.0],
                    80.0,
                ),
            ],
            &[
                vec![11.0, 10.5, 1.0, 12.0, 13.0, 1.0],
                vec![301.0, 299.0, 1.0, 5.0, 5.0, 1.0],
                vec![150.0, 150.0, 1.0, 150.0, 150.0, 1.0],
            ],
        );
        let run = |p: &Params| {
            let mut cells = super::super::cells::group(p, &gt, &dt);
            compute(p, &mut cells, &gt, &dt, &libm_exp).unwrap();
            cells
        };
        let coco = params((0..10).map(|i| 0.5 + 0.05 * f64::from(i)).collect());
        let pruned = run(&coco);
        // No thresholds in (0, 1): nothing is left out.
        let exact = run(&params(vec![0.0, 0.5]));
        assert_eq!(pruned.len(), 1);
        assert!(pruned[0].oks_far && !exact[0].oks_far);
        let (p, e) = (&pruned[0].ious, &exact[0].ious);
        let mut far = 0;
        for (a, b) in p.iter().zip(e.iter()) {
            if *a == f64::NEG_INFINITY {
                far += 1;
                assert!(*b < 0.5, "a pair left out could match: {b}");
            } else {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
        assert_eq!(far, 4, "{p:?}");
        // What `ious` shows: every pair exact again.
        let again = cell_oks(&coco, &pruned[0], &gt, &dt, &libm_exp).unwrap();
        assert_eq!(
            again.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            e.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // A NaN keypoint keeps its pair exact (NaN OKS matches in pycocotools).
        let (gt2, dt2) = sides(
            &[(
                vec![10.0, 10.0, 2.0, 12.0, 14.0, 1.0],
                [5.0, 5.0, 10.0, 12.0],
                90.0,
            )],
            &[vec![f64::NAN, 500.0, 1.0, 500.0, 500.0, 1.0]],
        );
        let mut cells = super::super::cells::group(&coco, &gt2, &dt2);
        compute(&coco, &mut cells, &gt2, &dt2, &libm_exp).unwrap();
        assert!(!cells[0].oks_far && cells[0].ious[0].is_nan());
    }

    /// Keypoint parameters with thresholds `thrs`, for [`Far::new`].
    fn far_params(thrs: Vec<f64>) -> Params {
        Params {
            iou_type: IouType::Keypoints,
            img_ids: vec![1],
            cat_ids: vec![1],
            use_cats: true,
            iou_thrs: thrs,
            area_rng: vec![[0.0, 1e10]],
            max_det: 20,
            kpt_oks_sigmas: Vec::new(),
        }
    }

    #[test]
    fn distance_thresholds_hold_at_extreme_variances_and_areas() {
        // Subnormal and huge variances, tiny and huge areas, distances on both sides of each
        // threshold: a distance above its threshold always gives an exponent above the
        // limit, as computed (a variance of 5e-324 with an area of 4.7e15 once broke this:
        // the subnormal product lost a quarter of its value).
        let thrs: Vec<f64> = (0..10).map(|i| 0.5 + 0.05 * f64::from(i)).collect();
        let params = far_params(thrs);
        let vars = [5e-324, 3e-320, 1e-310, 2.2e-308, 1e-300, 1e-5, 1.0, 1e300];
        let areas = [1e-300, 0.5, 1e10, 4.7e15, 1e300];
        let far = Far::new(&params, &vars).unwrap();
        let mut rng = crate::test_rng::Rng::new(0x0005_ab0b);
        let mut decided = 0;
        for &area in &areas {
            let g = [0.0, 0.0, 2.0];
            let truth = Truth::new(&g, &[0.0, 0.0, 1.0, 1.0], area, true);
            for &var in &vars {
                let mut t = Vec::new();
                far.thresholds(&truth, &[var], &mut t);
                let Some(&threshold) = t.first() else {
                    continue;
                };
                decided += 1;
                for _ in 0..200 {
                    // q within a few ulps of the threshold, or anywhere above it.
                    let q = match rng.below(3) {
                        0 => f64::from_bits(threshold.to_bits() + rng.below(64)),
                        1 => threshold * (1.0 + rng.below(1000) as f64 * 1e-12),
                        _ => threshold * (1.0 + rng.below(1000) as f64),
                    };
                    if q > threshold {
                        let e = q / var / truth.denom / 2.0;
                        assert!(e > far.limit, "var {var} area {area} q {q} e {e}");
                    }
                }
            }
            // A subnormal product gives no threshold.
            let mut t = Vec::new();
            far.thresholds(&truth, &[5e-324], &mut t);
            assert!(t.is_empty(), "{area} {t:?}");
        }
        assert!(decided > 10, "{decided}");
    }

    #[test]
    fn far_pairs_never_drop_a_match() {
        // Random pairs (NaN, infinite and -0.0 coordinates, areas 0 and negative among
        // them): a pair the boxes call far has every exact exponent past the limit, and a
        // pair far by its exponents has an OKS below the smallest threshold.
        let rng = std::cell::RefCell::new(crate::test_rng::Rng::new(0x0f4a_11e5));
        let next = |m: u64| rng.borrow_mut().below(m);
        let thrs: Vec<f64> = (0..10).map(|i| 0.5 + 0.05 * f64::from(i)).collect();
        let (mut by_boxes, mut by_exponents, mut by_distances, mut near) = (0, 0, 0, 0);
        for k in [1usize, 4, 5, 17] {
            let vars: Vec<f64> = (0..k)
                .map(|j| (0.05 + 0.01 * j as f64).powi(2) * 4.0)
                .collect();
            let params = far_params(thrs.clone());
            let far = Far::new(&params, &vars).unwrap();
            let coord = |spread: u64| -> f64 {
                match next(60) {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => -0.0,
                    _ => next(spread) as f64 / 4.0 - 20.0,
                }
            };
            for _ in 0..4000 {
                let spread = [40, 400, 4000][next(3) as usize];
                let g: Vec<f64> = (0..3 * k)
                    .map(|i| {
                        if i % 3 == 2 {
                            next(3) as f64
                        } else {
                            coord(spread)
                        }
                    })
                    .collect();
                let d: Vec<f64> = (0..3 * k)
                    .map(|i| if i % 3 == 2 { 1.0 } else { coord(spread) })
                    .collect();
                let bb = [
                    coord(spread),
                    coord(spread),
                    next(50) as f64 - 5.0,
                    next(50) as f64 - 5.0,
                ];
                let area = [0.0, -1.0, 1.0, 500.0, 20000.0][next(5) as usize];
                let truth = Truth::new(&g, &bb, area, Keypoints::any_visible(&g));
                let mut e = Vec::new();
                push_exponents(&mut e, &vars, &truth, &d);
                let exact_far = far.exponents_far(&e);
                // The gathered form computes the same exponents, bit for bit, and its
                // distance test only finds pairs far that are.
                let mut gathered = Gathered::default();
                gathered.gather(&truth, &vars, Some(&far));
                gathered.distances(&truth, &d);
                let mut e2 = Vec::new();
                gathered.push_exponents(truth.denom, &mut e2);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&e), bits(&e2), "{g:?} {d:?} {bb:?} {area}");
                if gathered.far_by_distances() {
                    assert!(exact_far, "{g:?} {d:?} {bb:?} {area} {e:?}");
                    by_distances += 1;
                }
                let boxes = truth.extent().zip(Extent::of_detection(&d));
                if boxes.is_some_and(|(ge, de)| far.boxes_far(&truth, &ge, &de)) {
                    assert!(exact_far, "{g:?} {d:?} {bb:?} {area} {e:?}");
                    by_boxes += 1;
                } else if exact_far {
                    by_exponents += 1;
                } else {
                    near += 1;
                }
                if exact_far {
                    let oks = pairwise_sum(&e.iter().map(|v| v.exp()).collect::<Vec<_>>())
                        / e.len() as f64;
                    assert!(oks < 0.5, "{oks}");
                }
            }
        }
        assert!(
            by_boxes > 1000 && by_exponents > 200 && by_distances > 100 && near > 1000,
            "{by_boxes} {by_exponents} {by_distances} {near}"
        );
    }

    #[test]
    fn extents_hold_their_points_and_refuse_non_finite_ones() {
        let e = Extent::of([(3.0, -1.0), (-2.0, 4.0), (0.5, 0.0)].into_iter()).unwrap();
        assert_eq!((e.x0, e.x1, e.y0, e.y1), (-2.0, 3.0, -1.0, 4.0));
        assert!(Extent::of(std::iter::empty()).is_none());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(Extent::of([(1.0, 1.0), (bad, 0.0)].into_iter()).is_none());
            assert!(Extent::of([(0.0, bad), (1.0, 1.0)].into_iter()).is_none());
        }
    }

    #[test]
    fn pairwise_sum_follows_numpy_order() {
        // Below 8 values: left to right from 0.
        assert_eq!(pairwise_sum(&[1e16, 1.0, 1.0]), (1e16 + 1.0) + 1.0);
        // 9 values: eight lanes combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the tail.
        let a = [1e16, 1.0, -1e16, 1.0, 0.5, 0.25, 0.125, 0.0625, 3.0];
        let want = (((1e16 + 1.0) + (-1e16 + 1.0)) + ((0.5 + 0.25) + (0.125 + 0.0625))) + 3.0;
        assert_eq!(pairwise_sum(&a), want);
        assert_ne!(want, a.iter().fold(0.0, |s, &x| s + x));
        // 16 values: lane j sums a[j] and a[j + 8].
        let b: Vec<f64> = (0..16).map(|i| if i == 0 { 1e16 } else { 1.0 }).collect();
        let lanes: Vec<f64> = (0..8).map(|j| b[j] + b[j + 8]).collect();
        let want = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        assert_eq!(pairwise_sum(&b), want);
        // Above 128: split at n/2 rounded down to a multiple of 8 (136 -> 64).
        let c: Vec<f64> = (0..136).map(|i| 1.0 / f64::from(i + 1)).collect();
        assert_eq!(pairwise_sum(&c), pairwise(&c[..64]) + pairwise(&c[64..]));
    }
}
