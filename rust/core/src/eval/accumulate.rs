//! `accumulate`: precision, recall and scores per (iou threshold, recall threshold, category,
//! area range, maxDets), as pycocotools computes them.

use rayon::prelude::*;

use super::cells::by_score;
use super::Evaluation;
use crate::error::{Error, Result};
use crate::parallel;

/// What `accumulate(p)` takes from the (possibly user-given) `p`, resolved against the
/// evaluated parameters exactly as pycocotools resolves them: `k_list`, `a_list` and `i_list`
/// are positions in `p`'s lists that pycocotools then uses as positions in the evaluated
/// layout (`Nk = k0*A0*I0`, `Na = a0*I0`); `m_list` holds maxDets values.
#[derive(Debug, Clone)]
pub struct AccumulateParams {
    pub k_list: Vec<usize>,
    pub a_list: Vec<usize>,
    pub m_list: Vec<usize>,
    pub i_list: Vec<usize>,
    pub rec_thrs: Vec<f64>,
    /// Output sizes `T, R, K, A, M` (from `p`).
    pub dims: [usize; 5],
}

/// `precision` and `scores` (T x R x K x A x M) and `recall` (T x K x A x M), C order, -1
/// where nothing was accumulated.
#[derive(Debug, Clone)]
pub struct Accumulated {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub scores: Vec<f64>,
}

/// numpy's `<` for sorting and searching floats: NaN sorts after everything.
fn np_less(a: f64, b: f64) -> bool {
    a < b || (b.is_nan() && !a.is_nan())
}

/// One (k, a, m) slot: per evaluated threshold, recall and the R precisions and scores.
type Slot = Option<Vec<(f64, Vec<f64>, Vec<f64>)>>;

/// Accumulates `ev` as `COCOeval.accumulate(p)`.
pub fn accumulate(ev: &Evaluation, p: &AccumulateParams) -> Result<Accumulated> {
    let [t_out, r_out, k_out, a_out, m_out] = p.dims;
    let t0 = ev.params.iou_thrs.len();
    if t0 > t_out {
        return Err(Error::Eval(format!(
            "accumulate: {t0} iouThrs were evaluated but p.iouThrs has {t_out}"
        )));
    }
    if p.rec_thrs.len() != r_out {
        return Err(Error::Eval("accumulate: recThrs length mismatch".into()));
    }
    let i0 = ev.params.img_ids.len();
    let a0_len = ev.params.area_rng.len();
    let k0_len = if ev.params.use_cats {
        ev.params.cat_ids.len()
    } else {
        1
    };
    let total = k0_len * a0_len * i0;
    let mut jobs = Vec::new();
    for (k, &k0) in p.k_list.iter().enumerate() {
        for (a, &a0) in p.a_list.iter().enumerate() {
            for (m, &max_det) in p.m_list.iter().enumerate() {
                if k >= k_out || a >= a_out || m >= m_out {
                    return Err(Error::Eval("accumulate: index outside p's lists".into()));
                }
                jobs.push((k, k0, a, a0, m, max_det));
            }
        }
    }
    // Every flat evalImgs index must exist, as pycocotools' list indexing requires.
    for &(_, k0, _, a0, _, _) in &jobs {
        for &i in &p.i_list {
            let flat = k0 * a0_len * i0 + a0 * i0 + i;
            if flat >= total {
                return Err(Error::Eval(format!(
                    "accumulate: evalImgs index {flat} out of range ({total} evaluated); p does not match the evaluated params"
                )));
            }
        }
    }
    let one = |&(_, k0, _, a0, _, max_det): &(usize, usize, usize, usize, usize, usize)| -> Slot {
        slot(ev, p, k0 * a0_len * i0 + a0 * i0, max_det)
    };
    let slots: Vec<Slot> = if parallel::worth_parallel(jobs.len(), ev.evals.len() * t0 * 4) {
        parallel::install(|| jobs.par_iter().map(one).collect())
    } else {
        jobs.iter().map(one).collect()
    };
    let mut out = Accumulated {
        precision: vec![-1.0; t_out * r_out * k_out * a_out * m_out],
        recall: vec![-1.0; t_out * k_out * a_out * m_out],
        scores: vec![-1.0; t_out * r_out * k_out * a_out * m_out],
    };
    for (&(k, _, a, _, m, _), slot) in jobs.iter().zip(slots) {
        let Some(per_t) = slot else { continue };
        for (t, (rc, q, ss)) in per_t.into_iter().enumerate() {
            out.recall[((t * k_out + k) * a_out + a) * m_out + m] = rc;
            for r in 0..r_out {
                let at = (((t * r_out + r) * k_out + k) * a_out + a) * m_out + m;
                out.precision[at] = q[r];
                out.scores[at] = ss[r];
            }
        }
    }
    Ok(out)
}

/// The evalImgs of one (k0, a0) block start `base`, over `i_list`, accumulated at `max_det`.
fn slot(ev: &Evaluation, p: &AccumulateParams, base: usize, max_det: usize) -> Slot {
    let i0 = ev.params.img_ids.len();
    let a0_len = ev.params.area_rng.len();
    let nt = ev.params.iou_thrs.len();
    // The non-None evalImgs, in i_list order.
    let evals: Vec<(usize, usize)> = p
        .i_list
        .iter()
        .filter_map(|&i| {
            let flat = base + i;
            let (k, a, ii) = (flat / (a0_len * i0), (flat / i0) % a0_len, flat % i0);
            ev.find_cell(k, ii).map(|c| (c, a))
        })
        .collect();
    if evals.is_empty() {
        return None;
    }
    // (score, which eval, detection position) of the first max_det detections of each.
    let mut dets: Vec<(f64, u32, u32)> = Vec::new();
    let mut npig = 0usize;
    for (e, &(c, a)) in evals.iter().enumerate() {
        let scores = ev.cell_scores(c);
        let n = scores.len().min(max_det);
        dets.extend(
            scores[..n]
                .iter()
                .enumerate()
                .map(|(d, &s)| (s, e as u32, d as u32)),
        );
        npig += ev.eval_img(c, a).gt_ignore.iter().filter(|&&g| !g).count();
    }
    // `np.argsort(-dtScores, kind='mergesort')`: stable.
    dets.sort_by(|x, y| by_score(x.0, y.0));
    if npig == 0 {
        return None;
    }
    let nd = dets.len();
    let npig_f = npig as f64;
    let mut per_t = Vec::with_capacity(nt);
    for t in 0..nt {
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut rc = Vec::with_capacity(nd);
        let mut pr = Vec::with_capacity(nd);
        for &(_, e, d) in &dets {
            let (c, a) = evals[e as usize];
            let img = ev.eval_img(c, a);
            let width = ev.cell_dt(c).len();
            let at = t * width + d as usize;
            if !img.dt_ignore[at] {
                if img.dt_matches[at] != 0 {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            let (tpf, fpf) = (tp as f64, fp as f64);
            rc.push(tpf / npig_f);
            // `tp / (fp + tp + np.spacing(1))`.
            pr.push(tpf / (fpf + tpf + f64::EPSILON));
        }
        let recall = if nd > 0 { rc[nd - 1] } else { 0.0 };
        // Precision made monotone from the right.
        for i in (1..nd).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        // `np.searchsorted(rc, recThrs, side='left')`, sampled until the first index past
        // the end (pycocotools' try/except), zeros after.
        let r = p.rec_thrs.len();
        let (mut q, mut ss) = (vec![0.0; r], vec![0.0; r]);
        for (ri, &thr) in p.rec_thrs.iter().enumerate() {
            let pi = rc.partition_point(|&x| np_less(x, thr));
            if pi >= nd {
                break;
            }
            q[ri] = pr[pi];
            ss[ri] = dets[pi].0;
        }
        per_t.push((recall, q, ss));
    }
    Some(per_t)
}
