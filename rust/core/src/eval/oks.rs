//! `computeOks`: object keypoint similarity of every detection with every ground truth of a
//! cell, as pycocotools computes it with numpy.
//!
//! Two parity rules live here. (1) `np.exp`: numpy's AVX-512F `exp` differs from libm's by
//! one ulp on a few percent of inputs, so the exponents of every pair are handed to the
//! caller's `exp`, a batch of cells at a time (the Python binding passes `np.exp` itself, which
//! is then exact on whatever CPU numpy picks its kernel for). (2) `np.sum` is numpy's pairwise
//! summation, replicated by [`pairwise_sum`].

use rayon::prelude::*;

use super::cells::Cell;
use super::{Anns, Geometry, Params};
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

/// `vg > 0`: a labelled keypoint (NaN is not).
fn visible(v: f64) -> bool {
    v > 0.0
}

/// Appends the (negated) exponents `-e` of one (detection, ground truth) pair, in the order
/// numpy builds `e` (only visible keypoints when the ground truth has any).
fn push_exponents(
    out: &mut Vec<f64>,
    vars: &[f64],
    g: &[f64],
    bb: &[f64; 4],
    area: f64,
    d: &[f64],
) {
    let k = vars.len();
    let n_visible = (0..k).filter(|&j| visible(g[3 * j + 2])).count();
    // `gt['area'] + np.spacing(1)`.
    let denom = area + f64::EPSILON;
    let (x0, x1) = (bb[0] - bb[2], bb[0] + bb[2] * 2.0);
    let (y0, y1) = (bb[1] - bb[3], bb[1] + bb[3] * 2.0);
    for j in 0..k {
        let (xd, yd) = (d[3 * j], d[3 * j + 1]);
        let (dx, dy) = if n_visible > 0 {
            if !visible(g[3 * j + 2]) {
                continue;
            }
            (xd - g[3 * j], yd - g[3 * j + 1])
        } else {
            (max0(x0 - xd) + max0(xd - x1), max0(y0 - yd) + max0(yd - y1))
        };
        // `(dx**2 + dy**2) / vars / (area + eps) / 2`, negated for `np.exp(-e)`.
        let e = (dx * dx + dy * dy) / vars[j] / denom / 2.0;
        out.push(-e);
    }
}

/// One cell's exponents, and how many each (ground truth, detection) pair has.
type Exponents = (Vec<f64>, Vec<usize>);

/// OKS of every cell with both ground truth and detections, into `cell.ious` (D x G).
pub(super) fn compute(
    params: &Params,
    cells: &mut [Cell],
    gt: &Anns,
    dt: &Anns,
    exp: &mut dyn FnMut(&mut [f64]) -> Result<()>,
) -> Result<()> {
    let (Geometry::Keypoints(gk, gboxes), Geometry::Keypoints(dk, _)) =
        (&gt.geometry, &dt.geometry)
    else {
        return Ok(());
    };
    // `vars = (sigmas * 2)**2`.
    let vars: Vec<f64> = params
        .kpt_oks_sigmas
        .iter()
        .map(|s| (s * 2.0) * (s * 2.0))
        .collect();
    let k = vars.len();
    let wrong = |what: &str, row: usize, id: i64, n: usize| {
        Error::Eval(format!(
            "{what} row {row} (id {id}) has {n} keypoint values; kpt_oks_sigmas needs {}",
            3 * k
        ))
    };
    // Each cell's exponents (cells in parallel), with the number each pair contributed.
    let one = |cell: &Cell| -> Result<Exponents> {
        let (mut buf, mut lens) = (Vec::new(), Vec::new());
        if cell.gt.is_empty() || cell.dt.is_empty() {
            return Ok((buf, lens));
        }
        buf.reserve(cell.gt.len() * cell.dt.len() * k);
        for &g in &cell.gt {
            let g = g as usize;
            let gv = gk.of(g);
            if gv.len() != 3 * k {
                return Err(wrong("ground-truth", g, gt.id[g], gv.len()));
            }
            for &d in &cell.dt {
                let d = d as usize;
                let dv = dk.of(d);
                if dv.len() != 3 * k {
                    return Err(wrong("detection", d, dt.id[d], dv.len()));
                }
                let before = buf.len();
                push_exponents(&mut buf, &vars, gv, &gboxes[g], gt.area[g], dv);
                lens.push(buf.len() - before);
            }
        }
        Ok((buf, lens))
    };
    let work: usize = cells.iter().map(|c| c.gt.len() * c.dt.len() * k).sum();
    let parts: Vec<Result<Exponents>> = if parallel::worth_parallel(cells.len(), work) {
        parallel::install(|| cells.par_iter().map(one).collect())
    } else {
        cells.iter().map(one).collect()
    };
    let mut parts = parts.into_iter().collect::<Result<Vec<_>>>()?;
    // `exp` (numpy's, through Python) over every cell's exponents: cells gathered into
    // batches of about EXP_BATCH values, one call each, so that a few calls cover
    // everything and no buffer the size of all of them is made.
    const EXP_BATCH: usize = 1 << 16;
    let mut batch: Vec<f64> = Vec::with_capacity(EXP_BATCH);
    let mut from = 0;
    for end in 0..=parts.len() {
        let full = end == parts.len() || batch.len() + parts[end].0.len() > EXP_BATCH;
        if full && !batch.is_empty() {
            exp(&mut batch)?;
            let mut at = 0;
            for (b, _) in &mut parts[from..end] {
                let n = b.len();
                b.copy_from_slice(&batch[at..at + n]);
                at += n;
            }
            batch.clear();
            from = end;
        }
        if let Some((b, _)) = parts.get(end) {
            if batch.is_empty() {
                from = end;
            }
            batch.extend_from_slice(b);
        }
    }
    // `np.sum(np.exp(-e)) / e.shape[0]`, stored D x G as computeOks's `ious[i, j]`.
    let fill = |(cell, (values, lens)): (&mut Cell, &Exponents)| {
        if cell.gt.is_empty() || cell.dt.is_empty() {
            return;
        }
        let mut at = 0;
        cell.ious = lens
            .iter()
            .map(|&n| {
                let v = pairwise_sum(&values[at..at + n]) / n as f64;
                at += n;
                v
            })
            .collect();
    };
    if parallel::worth_parallel(cells.len(), work) {
        parallel::install(|| cells.par_iter_mut().zip(parts.par_iter()).for_each(fill));
    } else {
        cells.iter_mut().zip(parts.iter()).for_each(fill);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
