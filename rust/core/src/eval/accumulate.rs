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

/// The detections of a slot's cells, sorted ([`Pick::sorted`]), with those cells.
type Dets = Option<(Vec<usize>, Vec<Pick>)>;

/// Where a slot's values go: positions `[t][r][a][m]` (recall `[t][a][m]`) over the
/// positions of `p.a_list` and `p.m_list`; what is never written stays -1. A column (all
/// recall thresholds of one `(t, a, m)`) at a time: one call per column, not per value.
trait Sink {
    /// Column `(t, a, m)`: precision and scores over the recall thresholds, and the recall.
    fn put(&mut self, t: usize, a: usize, m: usize, precision: &[f64], scores: &[f64], recall: f64);
    /// Copies column `(t, a, from)` to `(t, a, to)`.
    fn copy(&mut self, t: usize, a: usize, from: usize, to: usize);
}

/// One (category, area range) slot's values on their own (`[t][r][m]`, recall `[t][m]`):
/// slots computed in parallel, then copied into their category's [`Segments`].
struct Block {
    precision: Vec<f64>,
    recall: Vec<f64>,
    scores: Vec<f64>,
    r_out: usize,
    ml: usize,
}

impl Block {
    fn new(t0: usize, r_out: usize, ml: usize) -> Block {
        Block {
            precision: vec![-1.0; t0 * r_out * ml],
            recall: vec![-1.0; t0 * ml],
            scores: vec![-1.0; t0 * r_out * ml],
            r_out,
            ml,
        }
    }
}

impl Sink for Block {
    fn put(
        &mut self,
        t: usize,
        _a: usize,
        m: usize,
        precision: &[f64],
        scores: &[f64],
        recall: f64,
    ) {
        for (r, (&q, &s)) in precision.iter().zip(scores).enumerate() {
            let i = (t * self.r_out + r) * self.ml + m;
            self.precision[i] = q;
            self.scores[i] = s;
        }
        self.recall[t * self.ml + m] = recall;
    }
    fn copy(&mut self, t: usize, _a: usize, from: usize, to: usize) {
        for r in 0..self.r_out {
            let row = (t * self.r_out + r) * self.ml;
            self.precision[row + to] = self.precision[row + from];
            self.scores[row + to] = self.scores[row + from];
        }
        self.recall[t * self.ml + to] = self.recall[t * self.ml + from];
    }
}

/// One category's part of the output arrays (C order `[t][r][k][a][m]`): its `A x M`
/// segment of every `(t, r)` row (recall: of every `t`). Categories write their results in
/// place, in parallel, instead of into blocks of their own assembled afterwards (80
/// categories' blocks were as large as the output, 16 MB of fresh pages for COCO's params).
struct Segments<'a> {
    precision: Vec<&'a mut [f64]>,
    scores: Vec<&'a mut [f64]>,
    recall: Vec<&'a mut [f64]>,
    r_out: usize,
    m_out: usize,
}

impl Sink for Segments<'_> {
    fn put(
        &mut self,
        t: usize,
        a: usize,
        m: usize,
        precision: &[f64],
        scores: &[f64],
        recall: f64,
    ) {
        let at = a * self.m_out + m;
        let rows = t * self.r_out..(t + 1) * self.r_out;
        for ((row_q, row_s), (&q, &s)) in self.precision[rows.clone()]
            .iter_mut()
            .zip(&mut self.scores[rows])
            .zip(precision.iter().zip(scores))
        {
            row_q[at] = q;
            row_s[at] = s;
        }
        self.recall[t][at] = recall;
    }
    fn copy(&mut self, t: usize, a: usize, from: usize, to: usize) {
        let (i, j) = (a * self.m_out + from, a * self.m_out + to);
        let rows = t * self.r_out..(t + 1) * self.r_out;
        for (row_q, row_s) in self.precision[rows.clone()]
            .iter_mut()
            .zip(&mut self.scores[rows])
        {
            row_q[j] = row_q[i];
            row_s[j] = row_s[i];
        }
        self.recall[t][j] = self.recall[t][i];
    }
}

/// `n` values of -1, written in parallel (fresh pages: their first touch is the cost).
fn minus_ones(n: usize) -> Vec<f64> {
    let mut v = vec![0.0f64; n];
    if parallel::worth_parallel(2, n) {
        parallel::install(|| v.par_chunks_mut(1 << 16).for_each(|c| c.fill(-1.0)));
    } else {
        v.fill(-1.0);
    }
    v
}

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
    if p.k_list.len() > k_out || p.a_list.len() > a_out || p.m_list.len() > m_out {
        return Err(Error::Eval("accumulate: index outside p's lists".into()));
    }
    let i0 = ev.params.img_ids.len();
    let a0_len = ev.params.area_rng.len();
    let k0_len = if ev.params.use_cats {
        ev.params.cat_ids.len()
    } else {
        1
    };
    let total = k0_len * a0_len * i0;
    // Every flat evalImgs index must exist, as pycocotools' list indexing requires.
    if let Some(last_i) = p.i_list.iter().copied().max() {
        for &k0 in &p.k_list {
            for &a0 in &p.a_list {
                let flat = k0 * a0_len * i0 + a0 * i0 + last_i;
                if flat >= total {
                    return Err(Error::Eval(format!(
                        "accumulate: evalImgs index {flat} out of range ({total} evaluated); p does not match the evaluated params"
                    )));
                }
            }
        }
    }
    // Which images i_list selects, when all are inside the evaluated images (always, unless
    // p has more images than were evaluated): a slot is then its category's cells, filtered,
    // the same for every area range.
    let listed: Option<Vec<bool>> = if p.i_list.iter().all(|&i| i < i0) {
        let mut v = vec![false; i0];
        p.i_list.iter().for_each(|&i| v[i] = true);
        Some(v)
    } else {
        None
    };
    let (al, ml) = (p.a_list.len(), p.m_list.len());
    // One (category, area range) slot: `p.a_list[a]` (`a0` in the evaluated layout), written
    // at area position `a` of `sink`. `dets` keeps the sorted detections from one area range
    // to the next.
    let area = |k0: usize,
                a0: usize,
                a: usize,
                sink: &mut dyn Sink,
                scratch: &mut Scratch,
                dets: &mut Dets| {
        // This slot's non-None evalImgs in pycocotools' order, as (cell, area range).
        let evals: Vec<(usize, usize)> = match &listed {
            Some(listed) => ev
                .category_cells(k0)
                .filter(|&c| listed[ev.cell_key(c).1])
                .map(|c| (c, a0))
                .collect(),
            None => {
                // pycocotools' flat index, decoded back into (category, area, image).
                let base = k0 * a0_len * i0 + a0 * i0;
                p.i_list
                    .iter()
                    .filter_map(|&i| {
                        let flat = base + i;
                        let (k, a, ii) = (flat / (a0_len * i0), (flat / i0) % a0_len, flat % i0);
                        ev.find_cell(k, ii).map(|c| (c, a))
                    })
                    .collect()
            }
        };
        // Each (cell, area range)'s statuses and not-ignored count, in one pass.
        let mut npig = 0u64;
        let sources: Vec<&[u8]> = evals
            .iter()
            .map(|&(c, a)| {
                let (status, n) = ev.statuses(c, a);
                npig += u64::from(n);
                status
            })
            .collect();
        if npig == 0 {
            return;
        }
        let cells: Vec<usize> = evals.iter().map(|e| e.0).collect();
        // Sorted once per category when the cells repeat from one area range to the next.
        let sorted = match dets.take() {
            Some((prev, sorted)) if prev == cells => (prev, sorted),
            _ => {
                let picks = Pick::sorted(ev, &cells, &p.m_list);
                (cells, picks)
            }
        };
        let picks = &dets.insert(sorted).1;
        for (m, pick) in picks.iter().enumerate() {
            // The picks of two maxDets values are nested (each the detections ranked
            // below its value in every cell), so picks of equal length are the same
            // detections, with the same results (every cell within both values).
            if let Some(m2) = picks[..m].iter().position(|q| q.len() == pick.len()) {
                for t in 0..t0 {
                    sink.copy(t, a, m2, m);
                }
                continue;
            }
            let n = pick.len();
            pick.walk(ev.params.iou_thrs.len(), &sources, scratch);
            for t in 0..t0 {
                // A slot with ground truth samples 0 where nothing is reached.
                let Scratch { walks, q, s, .. } = &mut *scratch;
                q.clear();
                q.resize(r_out, 0.0);
                s.clear();
                s.resize(r_out, 0.0);
                // No detections: recall 0 and nothing sampled.
                let recall = if n == 0 {
                    0.0
                } else {
                    sample(
                        &mut walks[t],
                        &pick.scores,
                        npig as f64,
                        &p.rec_thrs,
                        |r, qv, sv| {
                            q[r] = qv;
                            s[r] = sv;
                        },
                    )
                };
                sink.put(t, a, m, q, s, recall);
            }
        }
    };
    // The output, -1 where nothing is written, and each category's segments of it.
    let (kl, am) = (p.k_list.len(), a_out * m_out);
    let mut precision = minus_ones(t_out * r_out * k_out * am);
    let mut scores = minus_ones(t_out * r_out * k_out * am);
    let mut recall = minus_ones(t_out * k_out * am);
    let mut sinks: Vec<Segments<'_>> = (0..kl)
        .map(|_| Segments {
            precision: Vec::with_capacity(t0 * r_out),
            scores: Vec::with_capacity(t0 * r_out),
            recall: Vec::with_capacity(t0),
            r_out,
            m_out,
        })
        .collect();
    if am > 0 && k_out > 0 {
        let rows = t0 * r_out;
        for row in precision.chunks_mut(k_out * am).take(rows) {
            for (seg, sink) in row.chunks_mut(am).zip(sinks.iter_mut()) {
                sink.precision.push(seg);
            }
        }
        for row in scores.chunks_mut(k_out * am).take(rows) {
            for (seg, sink) in row.chunks_mut(am).zip(sinks.iter_mut()) {
                sink.scores.push(seg);
            }
        }
        for row in recall.chunks_mut(k_out * am).take(t0) {
            for (seg, sink) in row.chunks_mut(am).zip(sinks.iter_mut()) {
                sink.recall.push(seg);
            }
        }
    }
    let one = |sink: &mut Segments<'_>, k0: usize| {
        let (mut scratch, mut dets) = (Scratch::default(), None);
        for (a, &a0) in p.a_list.iter().enumerate() {
            area(k0, a0, a, sink, &mut scratch, &mut dets);
        }
    };
    let work = ev.cell_count() * a0_len * t0 * 4;
    let by_slot = parallel::worth_parallel(kl * al, work)
        && listed.is_some()
        && al > 1
        && kl < 2 * parallel::num_threads();
    if am == 0 || k_out == 0 {
        // No (area, maxDets) positions: nothing to write.
    } else if by_slot {
        // Fewer categories than the pool can keep busy (keypoints evaluate one): the slots
        // (category, area range) in parallel instead, each category's detections sorted
        // once first (with `listed`, its slots have the same cells at every area range).
        let dets: Vec<Dets> = p
            .k_list
            .iter()
            .map(|&k0| match &listed {
                Some(listed) => {
                    let cells: Vec<usize> = ev
                        .category_cells(k0)
                        .filter(|&c| listed[ev.cell_key(c).1])
                        .collect();
                    let picks = Pick::sorted(ev, &cells, &p.m_list);
                    Some((cells, picks))
                }
                None => None,
            })
            .collect();
        let slots: Vec<Block> = parallel::install(|| {
            (0..kl * al)
                .into_par_iter()
                .map(|i| {
                    let (kp, a) = (i / al, i % al);
                    let mut block = Block::new(t0, r_out, ml);
                    let mut sorted = dets[kp].clone();
                    let mut scratch = Scratch::default();
                    area(
                        p.k_list[kp],
                        p.a_list[a],
                        0,
                        &mut block,
                        &mut scratch,
                        &mut sorted,
                    );
                    block
                })
                .collect()
        });
        let (mut q, mut sc) = (vec![0.0; r_out], vec![0.0; r_out]);
        for (i, slot) in slots.iter().enumerate() {
            let (sink, a) = (&mut sinks[i / al], i % al);
            for t in 0..t0 {
                for m in 0..ml {
                    for r in 0..r_out {
                        let j = (t * r_out + r) * ml + m;
                        (q[r], sc[r]) = (slot.precision[j], slot.scores[j]);
                    }
                    sink.put(t, a, m, &q, &sc, slot.recall[t * ml + m]);
                }
            }
        }
    } else if parallel::worth_parallel(kl, work) {
        parallel::install(|| {
            sinks
                .par_iter_mut()
                .zip(p.k_list.par_iter())
                .for_each(|(sink, &k0)| one(sink, k0))
        });
    } else {
        sinks
            .iter_mut()
            .zip(&p.k_list)
            .for_each(|(sink, &k0)| one(sink, k0));
    }
    drop(sinks);
    Ok(Accumulated {
        precision,
        recall,
        scores,
    })
}

/// The detections kept at one `maxDets`, in score order: for each, its cell (position in the
/// slot), its position in that cell, and its score.
#[derive(Clone)]
struct Pick {
    eval: Vec<u32>,
    pos: Vec<u32>,
    scores: Vec<f64>,
}

impl Pick {
    /// The detections of a slot's cells (each truncated to `maxDets[-1]` by evaluate) in
    /// their stable order by decreasing score, `np.argsort(-dtScores, kind='mergesort')` over
    /// the cells' concatenation, once per `maxDets` value (`e['dtScores'][0:maxDet]` of each
    /// cell). Sorting all of them once and keeping the first `maxDet` of each cell gives the
    /// same order: a stable sort of a subsequence is the subsequence of the stable sort.
    fn sorted(ev: &Evaluation, cells: &[usize], m_list: &[usize]) -> Vec<Pick> {
        let n: usize = cells.iter().map(|&c| ev.cell_scores(c).len()).sum();
        // Sorting (key, concatenated position) pairs is a stable sort by key.
        let mut keyed: Vec<(u64, u32)> = Vec::with_capacity(n);
        let mut owner: Vec<(u32, u32)> = Vec::with_capacity(n);
        for (e, &c) in cells.iter().enumerate() {
            for (d, &s) in ev.cell_scores(c).iter().enumerate() {
                keyed.push((descending_key(s), owner.len() as u32));
                owner.push((e as u32, d as u32));
            }
        }
        keyed.sort_unstable();
        m_list
            .iter()
            .map(|&max_det| {
                let mut pick = Pick {
                    eval: Vec::with_capacity(n),
                    pos: Vec::with_capacity(n),
                    scores: Vec::with_capacity(n),
                };
                for &(_, i) in &keyed {
                    let (e, d) = owner[i as usize];
                    if (d as usize) < max_det {
                        pick.eval.push(e);
                        pick.pos.push(d);
                        pick.scores
                            .push(ev.cell_scores(cells[e as usize])[d as usize]);
                    }
                }
                pick
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.pos.len()
    }

    /// Walks the picked detections once for every threshold together: each threshold's
    /// true positives in score order, with the false positives before each (`scratch.walks`,
    /// one per threshold). `sources` holds each slot entry's statuses (D x T: a detection's
    /// thresholds side by side, so each detection costs one read); true positives are rare
    /// (at most the ground truth), so the per-threshold lists stay short.
    fn walk(&self, nt: usize, sources: &[&[u8]], scratch: &mut Scratch) {
        let Scratch { walks, fp, .. } = scratch;
        if walks.len() < nt {
            walks.resize_with(nt, Walk::default);
        }
        for w in walks.iter_mut() {
            w.fp.clear();
            w.at.clear();
        }
        fp.clear();
        fp.resize(nt, 0);
        if nt <= PACKED_THRESHOLDS {
            self.walk_packed(nt, sources, walks, fp);
            return;
        }
        for (i, (&e, &d)) in self.eval.iter().zip(&self.pos).enumerate() {
            let d = d as usize;
            let row = &sources[e as usize][d * nt..(d + 1) * nt];
            for ((w, f), &st) in walks.iter_mut().zip(fp.iter_mut()).zip(row) {
                if st == TRUE_POSITIVE {
                    w.fp.push(*f);
                    w.at.push(i as u32);
                }
                *f += u32::from(st == FALSE_POSITIVE);
            }
        }
    }

    /// [`Pick::walk`] for up to [`PACKED_THRESHOLDS`] thresholds: a detection's statuses
    /// are read as two words of byte lanes, its false positives added to byte counters in
    /// one step (spilled into `fp` before they can overflow), and only a detection that is
    /// a true positive somewhere is looked at threshold by threshold. Most detections are
    /// false positives or ignored everywhere, and a branch per threshold was most of the
    /// walk's time.
    fn walk_packed(&self, nt: usize, sources: &[&[u8]], walks: &mut [Walk], fp: &mut [u32]) {
        const LOW: u64 = 0x0101_0101_0101_0101;
        // Statuses are 0 (ignored), 1 (true positive) or 2 (false positive): bit 0 of a
        // lane is a true positive, bit 1 a false one. Lanes past `nt` (the next detection's
        // statuses, or zeros) count too but are never read: no lane passes 255 before a
        // spill, so none carries into another. Only this detection's lanes are looked at
        // for true positives.
        let lanes = |n: usize| {
            if n >= 8 {
                LOW
            } else {
                LOW & ((1u64 << (8 * n)) - 1)
            }
        };
        let tp_lanes = [lanes(nt), lanes(nt.saturating_sub(8))];
        let mut counts = [0u64; 2];
        let mut pending = 0u32;
        let lane = |counts: &[u64; 2], t: usize| ((counts[t / 8] >> (8 * (t % 8))) & 0xff) as u32;
        for (i, (&e, &d)) in self.eval.iter().zip(&self.pos).enumerate() {
            let (src, start) = (sources[e as usize], d as usize * nt);
            let mut bytes = [0u8; 16];
            match src.get(start..start + 16) {
                Some(s) => bytes.copy_from_slice(s),
                None => bytes[..nt].copy_from_slice(&src[start..start + nt]),
            }
            let word = |k: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&bytes[8 * k..8 * k + 8]);
                u64::from_le_bytes(w)
            };
            let (lo, hi) = (word(0), word(1));
            counts[0] += (lo >> 1) & LOW;
            counts[1] += (hi >> 1) & LOW;
            pending += 1;
            if (lo & tp_lanes[0]) | (hi & tp_lanes[1]) != 0 {
                for (t, w) in walks.iter_mut().enumerate().take(nt) {
                    if bytes[t] == TRUE_POSITIVE {
                        w.fp.push(fp[t] + lane(&counts, t));
                        w.at.push(i as u32);
                    }
                }
            }
            // A byte lane holds 255 detections' false positives.
            if pending == 255 {
                for (t, f) in fp.iter_mut().enumerate() {
                    *f += lane(&counts, t);
                }
                counts = [0; 2];
                pending = 0;
            }
        }
    }
}

/// At most this many IoU thresholds: [`Pick::walk_packed`] (COCO's params have 10).
const PACKED_THRESHOLDS: usize = 16;

/// Buffers reused from one slot to the next.
#[derive(Default)]
struct Scratch {
    /// One per threshold.
    walks: Vec<Walk>,
    /// One column's precision and scores, over the recall thresholds.
    q: Vec<f64>,
    s: Vec<f64>,
    /// False positives so far, per threshold.
    fp: Vec<u32>,
}

/// One threshold's walk over a slot's picked detections (score order): per true positive
/// (the j-th holds j + 1 true positives) the false positives before it and its position;
/// and buffers for the precision (then the running maximum from the right) and recall at each
/// true positive.
#[derive(Default)]
struct Walk {
    fp: Vec<u32>,
    at: Vec<u32>,
    pr: Vec<f64>,
    rc: Vec<f64>,
}

impl Walk {
    /// Whether the first detection is a true positive.
    fn first_tp(&self) -> bool {
        self.at.first() == Some(&0)
    }
}

/// One (threshold, slot) over its picked detections' statuses and scores (score order):
/// returns the recall and hands `emit(r, precision, score)` the sampled values (recall
/// thresholds past the last sample keep their 0). [`Pick::walk`] and [`sample`] do the same
/// for every threshold at once; this one-threshold form is what the tests hold against
/// pycocotools' own code.
#[cfg(test)]
fn slot_at(
    status: &[u8],
    scores: &[f64],
    npig: f64,
    rec_thrs: &[f64],
    w: &mut Walk,
    emit: impl FnMut(usize, f64, f64),
) -> f64 {
    if status.is_empty() {
        // No detections: recall 0 and nothing sampled (index 0 is already past the end).
        return 0.0;
    }
    w.fp.clear();
    w.at.clear();
    let mut fp = 0u32;
    for (i, &st) in status.iter().enumerate() {
        if st == TRUE_POSITIVE {
            w.fp.push(fp);
            w.at.push(i as u32);
        }
        fp += u32::from(st == FALSE_POSITIVE);
    }
    sample(w, scores, npig, rec_thrs, emit)
}

/// The precision, recall and scores of one (threshold, slot) from its walk (at least one
/// detection): returns the recall and hands `emit(r, precision, score)` the sampled values.
///
/// pycocotools builds, over the detections, `tp` and `fp` cumulative sums,
/// `pr = tp / (fp + tp + np.spacing(1))` made non-increasing from the right, `rc = tp / npig`,
/// and samples `pr` and the scores at `np.searchsorted(rc, recThrs, 'left')` until an index
/// runs past the end. The same numbers come from the true positives alone: `rc` only changes
/// at a true positive, so every sampled index is a true positive or index 0, and the
/// right-running maximum of `pr` at a true positive is the maximum over the true positives
/// from there on (`pr` falls at a false positive and stays at an ignored one). Each `pr` is
/// computed with pycocotools' operations, in its order.
fn sample(
    w: &mut Walk,
    scores: &[f64],
    npig: f64,
    rec_thrs: &[f64],
    mut emit: impl FnMut(usize, f64, f64),
) -> f64 {
    let tp = w.fp.len();
    w.pr.clear();
    w.pr.extend(w.fp.iter().enumerate().map(|(j, &f)| {
        let (tpf, fpf) = ((j + 1) as f64, f64::from(f));
        tpf / (fpf + tpf + f64::EPSILON)
    }));
    let mut running = f64::NEG_INFINITY;
    for v in w.pr.iter_mut().rev() {
        running = running.max(*v);
        *v = running;
    }
    let rc0 = f64::from(u8::from(w.first_tp())) / npig;
    // The recall at each true positive, one division each, for a merge with the thresholds
    // when they ascend (pycocotools' grid), else a search per threshold.
    w.rc.clear();
    w.rc.extend((1..=tp).map(|j| j as f64 / npig));
    let mut j = 0;
    let mut last = f64::NEG_INFINITY;
    for (r, &thr) in rec_thrs.iter().enumerate() {
        if !np_less(rc0, thr) {
            // Index 0: the maximum precision over everything (0 without a true positive).
            emit(r, w.pr.first().copied().unwrap_or(0.0), scores[0]);
            continue;
        }
        if np_less(thr, last) {
            j = 0;
        }
        last = thr;
        // First true positive whose recall is not below thr (numpy's order).
        while j < tp && np_less(w.rc[j], thr) {
            j += 1;
        }
        if j == tp {
            break;
        }
        emit(r, w.pr[j], scores[w.at[j] as usize]);
    }
    tp as f64 / npig
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::IGNORED;
    use crate::test_rng::Rng;

    #[test]
    fn walks_equal_each_threshold_walked_alone() {
        // Slots of several cells (rows of `nt` statuses each) picked in a random order, for
        // thresholds on both sides of the packed walk's limit and slots long enough to spill
        // its byte counters (over 255 detections, some false positives everywhere). A reused
        // scratch, as in accumulate, between slots of different thresholds.
        let mut rng = Rng::new(0x3c6e_f372_fe94_f82b);
        let mut scratch = Scratch::default();
        for case in 0..1500 {
            let nt = 1 + rng.below(20) as usize;
            let cells = 1 + rng.below(6) as usize;
            let tp_rate = [1, 4, 30, 1000][rng.below(4) as usize];
            let fp_only = rng.below(3) == 0;
            let rows: Vec<Vec<u8>> = (0..cells)
                .map(|_| {
                    let n = rng.below(if case % 4 == 0 { 700 } else { 60 }) as usize;
                    (0..n * nt)
                        .map(|_| match rng.below(tp_rate) {
                            0 => TRUE_POSITIVE,
                            _ if fp_only => FALSE_POSITIVE,
                            _ => [IGNORED, FALSE_POSITIVE][rng.below(2) as usize],
                        })
                        .collect()
                })
                .collect();
            let mut order: Vec<(u32, u32)> = rows
                .iter()
                .enumerate()
                .flat_map(|(e, r)| (0..r.len() / nt).map(move |d| (e as u32, d as u32)))
                .collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let pick = Pick {
                eval: order.iter().map(|o| o.0).collect(),
                pos: order.iter().map(|o| o.1).collect(),
                scores: vec![0.0; order.len()],
            };
            let sources: Vec<&[u8]> = rows.iter().map(|r| r.as_slice()).collect();
            pick.walk(nt, &sources, &mut scratch);
            for t in 0..nt {
                let (mut fp, mut want_fp, mut want_at) = (0u32, vec![], vec![]);
                for (i, &(e, d)) in order.iter().enumerate() {
                    match rows[e as usize][d as usize * nt + t] {
                        TRUE_POSITIVE => {
                            want_fp.push(fp);
                            want_at.push(i as u32);
                        }
                        FALSE_POSITIVE => fp += 1,
                        _ => {}
                    }
                }
                let w = &scratch.walks[t];
                assert_eq!(
                    (&w.fp, &w.at),
                    (&want_fp, &want_at),
                    "case {case}, threshold {t}"
                );
                if let Some(&(e, d)) = order.first() {
                    let first = rows[e as usize][d as usize * nt + t] == TRUE_POSITIVE;
                    assert_eq!(w.first_tp(), first, "case {case}, threshold {t}");
                }
            }
        }
    }

    /// pycocotools' accumulate of one (threshold, slot), transcribed literally: full `tp`,
    /// `fp`, `pr`, `rc` arrays, the right-to-left pass, `searchsorted` and the try/except.
    fn literal(
        status: &[u8],
        scores: &[f64],
        npig: f64,
        rec_thrs: &[f64],
    ) -> (f64, Vec<f64>, Vec<f64>) {
        let nd = status.len();
        let (mut tp, mut fp) = (0.0f64, 0.0f64);
        let (mut pr, mut rc) = (Vec::new(), Vec::new());
        for &st in status {
            tp += f64::from(u8::from(st == TRUE_POSITIVE));
            fp += f64::from(u8::from(st == FALSE_POSITIVE));
            rc.push(tp / npig);
            pr.push(tp / (fp + tp + f64::EPSILON));
        }
        let recall = if nd > 0 { rc[nd - 1] } else { 0.0 };
        for i in (1..nd).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        let (mut q, mut s) = (vec![0.0; rec_thrs.len()], vec![0.0; rec_thrs.len()]);
        for (r, &thr) in rec_thrs.iter().enumerate() {
            let pi = rc.partition_point(|&x| np_less(x, thr));
            if pi >= nd {
                break;
            }
            q[r] = pr[pi];
            s[r] = scores[pi];
        }
        (recall, q, s)
    }

    #[test]
    fn true_positive_sampling_equals_the_literal_arrays() {
        let mut rng = Rng::new(0x5851_f42d_4c95_7f2d);
        let grid: Vec<f64> = (0..=100).map(|i| i as f64 / 100.0).collect();
        // One set of buffers for every case, as in accumulate: dense and sparse slots of all
        // lengths follow each other.
        let mut walk = Walk::default();
        for case in 0..3000 {
            let nd = rng.below(if case % 2 == 0 { 40 } else { 300 }) as usize;
            // From all true positives to one in a hundred.
            let tp_rate = [1, 3, 10, 50, 100][rng.below(5) as usize];
            let status: Vec<u8> = (0..nd)
                .map(|_| {
                    if rng.below(tp_rate) == 0 {
                        TRUE_POSITIVE
                    } else {
                        [IGNORED, FALSE_POSITIVE, FALSE_POSITIVE][rng.below(3) as usize]
                    }
                })
                .collect();
            let tps = status.iter().filter(|&&s| s == TRUE_POSITIVE).count() as u64;
            let npig = (tps + rng.below(5)).max(1) as f64;
            let scores: Vec<f64> = (0..nd).map(|i| 1.0 - i as f64 / 64.0).collect();
            // pycocotools' grid, and shuffled / out-of-range / NaN thresholds.
            let thrs: Vec<f64> = if case % 3 == 0 {
                grid.clone()
            } else {
                (0..1 + rng.below(30))
                    .map(|_| match rng.below(8) {
                        0 => f64::NAN,
                        1 => -0.5,
                        2 => 1.5,
                        _ => rng.below(1001) as f64 / 1000.0,
                    })
                    .collect()
            };
            let want = literal(&status, &scores, npig, &thrs);
            let (mut q, mut s) = (vec![0.0; thrs.len()], vec![0.0; thrs.len()]);
            let recall = slot_at(&status, &scores, npig, &thrs, &mut walk, |r, qv, sv| {
                q[r] = qv;
                s[r] = sv;
            });
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(recall.to_bits(), want.0.to_bits(), "case {case}");
            assert_eq!(bits(&q), bits(&want.1), "case {case}: {status:?} {thrs:?}");
            assert_eq!(bits(&s), bits(&want.2), "case {case}");
        }
    }
}
