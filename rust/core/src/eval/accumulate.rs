//! `accumulate`: precision, recall and scores per (iou threshold, recall threshold, category,
//! area range, maxDets), as pycocotools computes them.

use rayon::prelude::*;

use super::cells::by_score;
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
                        slot(ev, p, &evals, &dets)
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
                    slot(ev, p, &evals, &sorted_dets(ev, &cells, max_det))
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

/// The detections of a slot: the first `max_det` of each cell, concatenated in cell order
/// (`starts[e]` is where cell `e`'s begin), and their stable order by decreasing score
/// (`np.argsort(-dtScores, kind='mergesort')`) with the sorted scores.
struct SortedDets {
    starts: Vec<usize>,
    order: Vec<u32>,
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
    let mut order: Vec<u32> = (0..all.len() as u32).collect();
    order.sort_by(|&x, &y| by_score(all[x as usize], all[y as usize]));
    let scores = order.iter().map(|&i| all[i as usize]).collect();
    SortedDets {
        starts,
        order,
        scores,
    }
}

/// One slot from its non-None evalImgs (cell, area range) in pycocotools' order and their
/// sorted detections.
fn slot(
    ev: &Evaluation,
    p: &AccumulateParams,
    evals: &[(usize, usize)],
    dets: &SortedDets,
) -> Slot {
    if evals.is_empty() {
        return None;
    }
    let npig: usize = evals.iter().map(|&(c, a)| ev.statuses(c, a).1 as usize).sum();
    if npig == 0 {
        return None;
    }
    let nt = ev.params.iou_thrs.len();
    let nd = dets.order.len();
    // Whether each detection counts as a true or false positive at each threshold, read
    // cell by cell (in memory order) into one compact array, then walked in score order.
    let mut tp_at = vec![false; nd * nt];
    let mut fp_at = vec![false; nd * nt];
    for (e, &(c, a)) in evals.iter().enumerate() {
        let (status, _) = ev.statuses(c, a);
        let width = ev.cell_dt(c).len();
        for (d, pos) in (dets.starts[e]..dets.starts[e + 1]).enumerate() {
            for t in 0..nt {
                let s = status[t * width + d];
                tp_at[pos * nt + t] = s == TRUE_POSITIVE;
                fp_at[pos * nt + t] = s == FALSE_POSITIVE;
            }
        }
    }
    let npig_f = npig as f64;
    // Cumulative tp and fp in score order, `rc = tp / npig` and
    // `pr = tp / (fp + tp + np.spacing(1))`, stored t-major.
    let (mut tp, mut fp) = (vec![0u64; nt], vec![0u64; nt]);
    let mut rc = vec![0.0f64; nt * nd];
    let mut pr = vec![0.0f64; nt * nd];
    for (i, &pos) in dets.order.iter().enumerate() {
        let pos = pos as usize;
        let (tps, fps) = (
            &tp_at[pos * nt..(pos + 1) * nt],
            &fp_at[pos * nt..(pos + 1) * nt],
        );
        for t in 0..nt {
            tp[t] += u64::from(tps[t]);
            fp[t] += u64::from(fps[t]);
            let (tpf, fpf) = (tp[t] as f64, fp[t] as f64);
            rc[t * nd + i] = tpf / npig_f;
            pr[t * nd + i] = tpf / (fpf + tpf + f64::EPSILON);
        }
    }
    let r = p.rec_thrs.len();
    let sorted_thrs = p.rec_thrs.windows(2).all(|w| !np_less(w[1], w[0]));
    let mut per_t = Vec::with_capacity(nt);
    for t in 0..nt {
        let rc = &rc[t * nd..(t + 1) * nd];
        let pr = &mut pr[t * nd..(t + 1) * nd];
        let recall = if nd > 0 { rc[nd - 1] } else { 0.0 };
        // Precision made monotone from the right.
        for i in (1..nd).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        // `np.searchsorted(rc, recThrs, side='left')`, sampled until the first index past
        // the end (pycocotools' try/except), zeros after.
        let (mut q, mut ss) = (vec![0.0; r], vec![0.0; r]);
        let mut pi = 0;
        for (ri, &thr) in p.rec_thrs.iter().enumerate() {
            // On ascending thresholds the insertion points only move right: a sweep.
            if sorted_thrs {
                while pi < nd && np_less(rc[pi], thr) {
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
