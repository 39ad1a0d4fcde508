//! `accumulate`: precision, recall and scores per (iou threshold, recall threshold, category,
//! area range, maxDets), as pycocotools computes them.

use rayon::prelude::*;

use super::cells::descending_key;
use super::{Evaluation, FALSE_POSITIVE, TRUE_POSITIVE};
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
    let last_i = p.i_list.iter().copied().max();
    for &(_, k0, _, a0, _, _) in &jobs {
        if let Some(i) = last_i {
            let flat = k0 * a0_len * i0 + a0 * i0 + i;
            if flat >= total {
                return Err(Error::Eval(format!(
                    "accumulate: evalImgs index {flat} out of range ({total} evaluated); p does not match the evaluated params"
                )));
            }
        }
    }
    // Positions in i_list, when all are inside the evaluated images (always, unless p has
    // more images than were evaluated): a slot is then its category's cells, filtered.
    let listed: Option<Vec<bool>> = if p.i_list.iter().all(|&i| i < i0) {
        let mut v = vec![false; i0];
        p.i_list.iter().for_each(|&i| v[i] = true);
        Some(v)
    } else {
        None
    };
    // One job per (category, maxDets): its detections are sorted once for all area ranges
    // when the cells do not depend on the area range (the fast path).
    let mut groups: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for (j, &(k, _, _, _, m, _)) in jobs.iter().enumerate() {
        match groups.last_mut() {
            Some((gk, gm, members)) if *gk == k && *gm == m => members.push(j),
            _ => groups.push((k, m, vec![j])),
        }
    }
    let one = |(_, _, members): &(usize, usize, Vec<usize>)| -> Vec<Slot> {
        let (_, k0, _, _, _, max_det) = jobs[members[0]];
        let mut scratch = Scratch::default();
        match &listed {
            Some(listed) => {
                let cells: Vec<usize> = ev
                    .category_cells(k0)
                    .filter(|&c| listed[ev.cell_key(c).1])
                    .collect();
                let dets = sorted_dets(ev, &cells, max_det);
                members
                    .iter()
                    .map(|&j| {
                        let evals: Vec<(usize, usize)> =
                            cells.iter().map(|&c| (c, jobs[j].3)).collect();
                        slot(ev, p, &evals, &dets, &mut scratch)
                    })
                    .collect()
            }
            None => members
                .iter()
                .map(|&j| {
                    // pycocotools' flat index, decoded back into (category, area, image).
                    let base = k0 * a0_len * i0 + jobs[j].3 * i0;
                    let evals: Vec<(usize, usize)> = p
                        .i_list
                        .iter()
                        .filter_map(|&i| {
                            let flat = base + i;
                            let (k, a, ii) =
                                (flat / (a0_len * i0), (flat / i0) % a0_len, flat % i0);
                            ev.find_cell(k, ii).map(|c| (c, a))
                        })
                        .collect();
                    let cells: Vec<usize> = evals.iter().map(|e| e.0).collect();
                    slot(
                        ev,
                        p,
                        &evals,
                        &sorted_dets(ev, &cells, max_det),
                        &mut scratch,
                    )
                })
                .collect(),
        }
    };
    let per_group: Vec<Vec<Slot>> =
        if parallel::worth_parallel(groups.len(), ev.cell_count() * a0_len * t0 * 4) {
            parallel::install(|| groups.par_iter().map(one).collect())
        } else {
            groups.iter().map(one).collect()
        };
    let mut slots: Vec<Slot> = vec![None; jobs.len()];
    for ((_, _, members), got) in groups.iter().zip(per_group) {
        for (&j, s) in members.iter().zip(got) {
            slots[j] = s;
        }
    }
    let mut out = Accumulated {
        precision: vec![-1.0; t_out * r_out * k_out * a_out * m_out],
        recall: vec![-1.0; t_out * k_out * a_out * m_out],
        scores: vec![-1.0; t_out * r_out * k_out * a_out * m_out],
    };
    // Written in output order (t, r outer; slots, which are in (k, a, m) order, inner) so
    // that the stores are sequential.
    for t in 0..t0 {
        for (&(k, _, a, _, m, _), slot) in jobs.iter().zip(&slots) {
            if let Some(per_t) = slot {
                out.recall[((t * k_out + k) * a_out + a) * m_out + m] = per_t[t].0;
            }
        }
        for r in 0..r_out {
            let base = (t * r_out + r) * k_out;
            for (&(k, _, a, _, m, _), slot) in jobs.iter().zip(&slots) {
                if let Some(per_t) = slot {
                    let at = ((base + k) * a_out + a) * m_out + m;
                    out.precision[at] = per_t[t].1[r];
                    out.scores[at] = per_t[t].2[r];
                }
            }
        }
    }
    Ok(out)
}

/// The detections of a slot: the first `max_det` of each cell, concatenated in cell order
/// (`starts[e]` is where cell `e`'s begin), and their stable order by decreasing score
/// (`np.argsort(-dtScores, kind='mergesort')`) with the sorted scores.
struct SortedDets {
    starts: Vec<usize>,
    order: Vec<u32>,
    /// `rank[order[i]] == i`.
    rank: Vec<u32>,
    scores: Vec<f64>,
}

fn sorted_dets(ev: &Evaluation, cells: &[usize], max_det: usize) -> SortedDets {
    let mut starts = Vec::with_capacity(cells.len() + 1);
    let mut all = Vec::new();
    for &c in cells {
        starts.push(all.len());
        let scores = ev.cell_scores(c);
        all.extend_from_slice(&scores[..scores.len().min(max_det)]);
    }
    starts.push(all.len());
    // Sorting (key, position) pairs is a stable sort by key.
    let mut keyed: Vec<(u64, u32)> = all
        .iter()
        .enumerate()
        .map(|(i, &s)| (descending_key(s), i as u32))
        .collect();
    keyed.sort_unstable();
    let order: Vec<u32> = keyed.iter().map(|&(_, i)| i).collect();
    let scores = order.iter().map(|&i| all[i as usize]).collect();
    let mut rank = vec![0u32; order.len()];
    for (i, &pos) in order.iter().enumerate() {
        rank[pos as usize] = i as u32;
    }
    SortedDets {
        starts,
        order,
        rank,
        scores,
    }
}

/// Buffers reused from one slot to the next.
#[derive(Default)]
struct Scratch {
    status: Vec<u8>,
    tp_cum: Vec<u64>,
    pr: Vec<f64>,
    rc: Vec<f64>,
}

/// One slot from its non-None evalImgs (cell, area range) in pycocotools' order and their
/// sorted detections.
fn slot(
    ev: &Evaluation,
    p: &AccumulateParams,
    evals: &[(usize, usize)],
    dets: &SortedDets,
    scratch: &mut Scratch,
) -> Slot {
    if evals.is_empty() {
        return None;
    }
    let npig: usize = evals
        .iter()
        .map(|&(c, a)| ev.statuses(c, a).1 as usize)
        .sum();
    if npig == 0 {
        return None;
    }
    let nt = ev.params.iou_thrs.len();
    let nd = dets.order.len();
    // The status of each detection at each threshold, read cell by cell (in memory order)
    // into one compact array in score order (threshold-major), then walked per threshold.
    let status_at = &mut scratch.status;
    status_at.clear();
    status_at.resize(nd * nt, 0);
    for (e, &(c, a)) in evals.iter().enumerate() {
        let (status, _) = ev.statuses(c, a);
        let width = ev.cell_dt(c).len();
        for (d, pos) in (dets.starts[e]..dets.starts[e + 1]).enumerate() {
            let i = dets.rank[pos] as usize;
            for t in 0..nt {
                status_at[t * nd + i] = status[t * width + d];
            }
        }
    }
    let npig_f = npig as f64;
    let r = p.rec_thrs.len();
    let sorted_thrs = p.rec_thrs.windows(2).all(|w| !np_less(w[1], w[0]));
    let (tp_cum, pr, rc) = (&mut scratch.tp_cum, &mut scratch.pr, &mut scratch.rc);
    let mut per_t = Vec::with_capacity(nt);
    for t in 0..nt {
        // Cumulative true positives and `pr = tp / (fp + tp + np.spacing(1))` in score order;
        // `rc = tp / npig` is computed where it is read.
        tp_cum.clear();
        pr.clear();
        let (mut tp, mut fp) = (0u64, 0u64);
        for &st in &status_at[t * nd..(t + 1) * nd] {
            tp += u64::from(st == TRUE_POSITIVE);
            fp += u64::from(st == FALSE_POSITIVE);
            tp_cum.push(tp);
            let (tpf, fpf) = (tp as f64, fp as f64);
            pr.push(tpf / (fpf + tpf + f64::EPSILON));
        }
        let rc_at = |i: usize| tp_cum[i] as f64 / npig_f;
        let recall = if nd > 0 { rc_at(nd - 1) } else { 0.0 };
        // Precision made monotone from the right (`if pr[i] > pr[i-1]: pr[i-1] = pr[i]`): a
        // running maximum, as no precision is NaN (every denominator is at least eps).
        let mut running = f64::NEG_INFINITY;
        for v in pr.iter_mut().rev() {
            running = running.max(*v);
            *v = running;
        }
        if !sorted_thrs {
            rc.clear();
            rc.extend((0..nd).map(rc_at));
        }
        // `np.searchsorted(rc, recThrs, side='left')`, sampled until the first index past
        // the end (pycocotools' try/except), zeros after.
        let (mut q, mut ss) = (vec![0.0; r], vec![0.0; r]);
        let mut pi = 0;
        for (ri, &thr) in p.rec_thrs.iter().enumerate() {
            if sorted_thrs {
                // On ascending thresholds the insertion points only move right: a sweep.
                while pi < nd && np_less(rc_at(pi), thr) {
                    pi += 1;
                }
            } else {
                pi = rc.partition_point(|&x| np_less(x, thr));
            }
            if pi >= nd {
                break;
            }
            q[ri] = pr[pi];
            ss[ri] = dets.scores[pi];
        }
        per_t.push((recall, q, ss));
    }
    Some(per_t)
}
