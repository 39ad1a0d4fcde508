//! COCOeval (`pycocotools.cocoeval`) over columns: per-image IoU or OKS, greedy matching and
//! accumulation into precision / recall / scores arrays, bit-exact with pycocotools 2.0.11.
//!
//! The work is split as pycocotools splits it, so that each rule can be checked against its
//! source: [`cells`] groups annotations by (category, image) as `_prepare` does, [`Evaluation::new`]
//! is `computeIoU`/`computeOks` + `evaluateImg`, [`accumulate`] is `accumulate`. Cells run in
//! parallel; each cell is computed by one task with the same code, so results never depend on
//! the thread count.

mod accumulate;
mod cells;
mod from_index;
mod matching;
mod oks;

pub use accumulate::{accumulate, AccumulateParams, Accumulated};
pub use from_index::{from_index, from_results};
pub use matching::{EvalImg, FALSE_POSITIVE, IGNORED, TRUE_POSITIVE};
pub use oks::pairwise_sum;

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::parallel;
use crate::rle::{ops, Packed, Rle};
use cells::Cell;

/// A cell's IoU or OKS matrix: (D, G, values D x G).
pub type CellIous<'a> = (usize, usize, std::borrow::Cow<'a, [f64]>);

/// Which overlap `evaluate` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IouType {
    Bbox,
    Segm,
    Keypoints,
}

/// `exp` over a buffer, in place: numpy's, called back (see [`oks`]). Shared by the pool's
/// threads, which may call it at once.
pub type Exp<'a> = &'a (dyn Fn(&mut [f64]) -> Result<()> + Sync);

/// Keypoints of a set of annotations: each one's `x, y, v` triples. The values may sit in
/// several buffers: a file-backed ground truth keeps the buffers its records were parsed
/// into, in parallel, rather than copying every value into one (a serial pass, and as many
/// fresh pages again, which cost more than the copy on a VM).
///
/// A ground truth with no visible keypoint may be kept as zeros of its length
/// ([`Self::push_hidden`]): OKS reads only its visibility then.
#[derive(Debug, Clone, Default)]
pub struct Keypoints {
    buffers: Vec<Vec<f64>>,
    /// Per annotation: its buffer ([`HIDDEN`] for `zeros`) and the range of its values there.
    spans: Vec<(usize, usize, usize)>,
    /// Zeros, as many as the longest hidden annotation's values.
    zeros: Vec<f64>,
}

/// In [`Keypoints::spans`]: values read from `zeros`.
const HIDDEN: usize = usize::MAX;
/// In [`Keypoints::spans`]: no `keypoints` at all (no values).
const ABSENT: usize = usize::MAX - 1;

impl Keypoints {
    /// Annotation `i`'s values.
    pub fn of(&self, i: usize) -> &[f64] {
        let (b, s, e) = self.spans[i];
        match b {
            HIDDEN => &self.zeros[s..e],
            ABSENT => &[],
            _ => &self.buffers[b][s..e],
        }
    }

    /// Whether annotation `i` has no `keypoints` at all ([`Self::push_absent`]).
    pub fn is_absent(&self, i: usize) -> bool {
        self.spans[i].0 == ABSENT
    }

    /// Appends an annotation without `keypoints` (no values; computeOks fails on it with a
    /// KeyError, where an empty list works).
    pub fn push_absent(&mut self) {
        self.spans.push((ABSENT, 0, 0));
    }

    /// Whether `v` marks a visible keypoint: computeOks's `vg > 0` (NaN is not).
    pub fn visible(v: f64) -> bool {
        v > 0.0
    }

    /// Whether any of `values` (x, y, v triples; a partial triple at the end is not one) is
    /// a visible keypoint ([`Self::visible`]).
    pub fn any_visible(values: &[f64]) -> bool {
        values.chunks_exact(3).any(|t| Self::visible(t[2]))
    }

    /// Appends a ground truth of `n` values without a visible keypoint, kept as `n` zeros
    /// (shared): OKS measures such a ground truth from its box and reads nothing of its
    /// keypoints but that none is visible, which zeros keep.
    pub fn push_hidden(&mut self, n: usize) {
        if self.zeros.len() < n {
            self.zeros.resize(n, 0.0);
        }
        self.spans.push((HIDDEN, 0, n));
    }

    /// The number of annotations.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Appends an annotation whose values `fill` appends to the last buffer (a new one if
    /// there is none); `fill`'s result is passed on.
    pub fn push_with<T>(&mut self, fill: impl FnOnce(&mut Vec<f64>) -> T) -> T {
        if self.buffers.is_empty() {
            self.buffers.push(Vec::new());
        }
        let b = self.buffers.len() - 1;
        let buf = &mut self.buffers[b];
        let start = buf.len();
        let out = fill(buf);
        self.spans.push((b, start, buf.len().max(start)));
        out
    }

    /// Appends an annotation with `values`.
    pub fn push(&mut self, values: &[f64]) {
        self.push_with(|buf| buf.extend_from_slice(values));
    }

    /// Takes `buffer` as the last buffer, whose values annotations appended with
    /// [`Self::push_range`] then refer to.
    pub fn adopt(&mut self, buffer: Vec<f64>) {
        self.buffers.push(buffer);
    }

    /// Appends an annotation whose values are `start..end` of the last buffer; false (and
    /// nothing appended) where that is not a range of it.
    pub fn push_range(&mut self, start: usize, end: usize) -> bool {
        let Some(b) = self.buffers.len().checked_sub(1) else {
            return false;
        };
        if start > end || end > self.buffers[b].len() {
            return false;
        }
        self.spans.push((b, start, end));
        true
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        let values: usize = self.buffers.iter().map(|b| b.capacity() * 8).sum();
        values
            + self.zeros.capacity() * 8
            + self.spans.capacity() * std::mem::size_of::<(usize, usize, usize)>()
    }

    /// Releases the buffers' spare capacity (for keypoints kept as long as an index).
    pub fn shrink_to_fit(&mut self) {
        self.buffers.iter_mut().for_each(Vec::shrink_to_fit);
    }
}

/// The shapes that IoU or OKS is computed from.
#[derive(Debug, Clone)]
pub enum Geometry {
    Boxes(Arc<Vec<[f64; 4]>>),
    Masks(Arc<[Rle]>),
    /// Masks as compact strings (a results index keeps them so), decoded cell by cell.
    Packed(Arc<Packed>),
    /// Keypoints (shared, as a results index keeps them), with the boxes that OKS uses for
    /// ground truth without visible keypoints.
    Keypoints(Arc<Keypoints>, Vec<[f64; 4]>),
}

/// One side of an evaluation (ground truth or detections) as columns, in `getAnnIds` order.
#[derive(Debug, Clone)]
pub struct Anns {
    pub id: Vec<i64>,
    pub image_id: Vec<i64>,
    pub category_id: Vec<i64>,
    /// Areas, scores and boxes are shared with a results index rather than copied.
    pub area: Arc<Vec<f64>>,
    /// Detection scores (empty for ground truth).
    pub score: Arc<Vec<f64>>,
    /// Ground truth: `int(iscrowd) != 0`, the crowd rule of IoU and matching.
    pub crowd: Vec<bool>,
    /// Ground truth: `_prepare`'s `ignore` (`iscrowd` truthy; for keypoints also
    /// `num_keypoints == 0`).
    pub ignore: Vec<bool>,
    pub geometry: Geometry,
}

impl Anns {
    /// No annotations, with the empty geometry of `kind`.
    pub fn empty(kind: IouType) -> Anns {
        Anns {
            id: Vec::new(),
            image_id: Vec::new(),
            category_id: Vec::new(),
            area: Arc::default(),
            score: Arc::default(),
            crowd: Vec::new(),
            ignore: Vec::new(),
            geometry: match kind {
                IouType::Bbox => Geometry::Boxes(Arc::default()),
                IouType::Segm => Geometry::Masks(Arc::from(Vec::new())),
                IouType::Keypoints => {
                    Geometry::Keypoints(Arc::new(Keypoints::default()), Vec::new())
                }
            },
        }
    }

    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    fn check(&self, side: &str, gt: bool, kind: IouType) -> Result<()> {
        let n = self.len();
        let geometry = match &self.geometry {
            Geometry::Boxes(b) => b.len() == n && kind == IouType::Bbox,
            Geometry::Masks(m) => m.len() == n && kind == IouType::Segm,
            Geometry::Packed(m) => m.len() == n && kind == IouType::Segm,
            Geometry::Keypoints(k, b) => {
                k.len() == n && (!gt || b.len() == n) && kind == IouType::Keypoints
            }
        };
        let columns = [self.image_id.len(), self.category_id.len(), self.area.len()]
            .iter()
            .all(|&l| l == n)
            && (gt || self.score.len() == n)
            && (!gt || (self.crowd.len() == n && self.ignore.len() == n));
        if geometry && columns {
            Ok(())
        } else {
            Err(Error::Eval(format!(
                "{side}: columns of different lengths or geometry not of the iouType"
            )))
        }
    }
}

/// The parameters `evaluate` uses (pycocotools' `Params` after `evaluate` normalised them).
#[derive(Debug, Clone)]
pub struct Params {
    pub iou_type: IouType,
    /// Sorted, distinct (`np.unique`).
    pub img_ids: Vec<i64>,
    /// Sorted and distinct with `use_cats`; as given (repeats included) without.
    pub cat_ids: Vec<i64>,
    pub use_cats: bool,
    pub iou_thrs: Vec<f64>,
    /// `[lo, hi]`, inclusive in evaluation.
    pub area_rng: Vec<[f64; 2]>,
    /// `maxDets[-1]`: detections kept per image and category.
    pub max_det: usize,
    pub kpt_oks_sigmas: Vec<f64>,
}

/// The result of `evaluate`: for every (category, image) cell with ground truth or
/// detections, its IoU matrix and one [`EvalImg`] per area range.
#[derive(Debug)]
pub struct Evaluation {
    pub params: Params,
    /// Cells ordered by (category position, image position), with their IoUs and matching.
    cells: Vec<Cell>,
    /// Detection statuses per area range: every cell's D x T block in cell order (a cell's
    /// at its `dt_at * T`). A category's slot is then one short stretch of memory, which
    /// accumulate reads in score order, jumping between cells: with a block per cell spread
    /// over the heap, those reads were mostly cache misses (an Objects365-sized walk ~40 ns
    /// a detection).
    status: Vec<Vec<u8>>,
    /// Every cell's detection scores (its `dt` order) at its `dt_at`.
    scores: Vec<f64>,
    /// Not-ignored ground truths per (cell, area range), C x A.
    npig: Vec<u32>,
}

impl Evaluation {
    /// `evaluate()`: IoU (or OKS) of every cell, then the matching at every area range.
    /// `exp` computes `e -> exp(e)` in place over a buffer of OKS exponents: pass numpy's
    /// `np.exp` to be exact where pycocotools runs (numpy's AVX-512 `exp` differs from libm by
    /// one ulp on some inputs, so OKS values depend on the exp used; see [`oks`]).
    pub fn new(params: Params, gt: &Anns, dt: &Anns, exp: Exp<'_>) -> Result<Evaluation> {
        gt.check("gt", true, params.iou_type)?;
        dt.check("dt", false, params.iou_type)?;
        if let Some(&nan) = params.area_rng.iter().flatten().find(|v| v.is_nan()) {
            return Err(Error::Eval(format!("areaRng holds {nan}")));
        }
        let mut cells = cells::group(&params, gt, dt);
        // Per-detection arenas rather than small vectors in each of (up to) millions of cells.
        let mut total = 0;
        for c in cells.iter_mut() {
            c.dt_at = total;
            total += c.dt.len();
        }
        let mut scores = Vec::with_capacity(total);
        for c in &cells {
            scores.extend(c.dt.iter().map(|&d| dt.score[d as usize]));
        }
        let work: usize = cells.iter().map(|c| c.gt.len() * c.dt.len() + 1).sum();
        match params.iou_type {
            IouType::Bbox => for_cells(&mut cells, work, |c| {
                c.box_ious(gt, dt);
                Ok(())
            })?,
            IouType::Segm => {
                let gt_masks = Masks::of(gt).map_err(|e| e.in_list("gt"))?;
                let dt_masks = Masks::of(dt).map_err(|e| e.in_list("dt"))?;
                for_cells(&mut cells, work * 8, |c| {
                    c.mask_ious(gt, &gt_masks, &dt_masks)
                })?;
            }
            IouType::Keypoints => {
                // pycocotools' computeOks reads `_gts[imgId, catId]`, empty for useCats=0's
                // catId -1: no OKS, so nothing matches.
                if params.use_cats {
                    oks::compute(&params, &mut cells, gt, dt, exp)?;
                }
            }
        }
        let (status, npig) = match_cells(&params, &mut cells, gt, dt, work);
        Ok(Evaluation {
            params,
            cells,
            status,
            scores,
            npig,
        })
    }

    /// Number of (category, image) cells with ground truth or detections.
    pub fn cell_count(&self) -> usize {
        self.cells.len()
    }

    /// The (category position, image position) of cell `c`.
    pub fn cell_key(&self, c: usize) -> (usize, usize) {
        (self.cells[c].k as usize, self.cells[c].i as usize)
    }

    /// The cells of category position `k`, in image order.
    pub fn category_cells(&self, k: usize) -> std::ops::Range<usize> {
        let start = self.cells.partition_point(|c| (c.k as usize) < k);
        let end = self.cells.partition_point(|c| c.k as usize <= k);
        start..end
    }

    /// The cell at (category position, image position), if it has anything.
    pub fn find_cell(&self, k: usize, i: usize) -> Option<usize> {
        self.cells
            .binary_search_by(|c| (c.k as usize, c.i as usize).cmp(&(k, i)))
            .ok()
    }

    /// IoU matrix of cell `c` (D x G, entry `(d, g)` at `g * D + d`, detections in score order,
    /// ground truth in `getAnnIds` order), or None where pycocotools has `[]`. OKS pairs too
    /// far apart to match were left out of the evaluation: they are computed now, with the
    /// columns evaluated (`gt`, `dt`) and the same `exp`.
    pub fn ious(
        &self,
        c: usize,
        gt: &Anns,
        dt: &Anns,
        exp: Exp<'_>,
    ) -> Result<Option<CellIous<'_>>> {
        let cell = &self.cells[c];
        let (d, g) = (cell.dt.len(), cell.gt.len());
        Ok(if cell.ious.is_empty() {
            None
        } else if cell.oks_far {
            let exact = oks::cell_oks(&self.params, cell, gt, dt, exp)?;
            Some((d, g, exact.into()))
        } else {
            Some((d, g, cell.ious.as_slice().into()))
        })
    }

    /// The `evaluateImg` result of cell `c` at area range `a` (recomputed: evaluation keeps
    /// only the compact [`Evaluation::statuses`]).
    pub fn eval_img(&self, c: usize, a: usize, gt: &Anns, dt: &Anns) -> EvalImg {
        matching::evaluate_img(
            &self.params,
            &self.cells[c],
            gt,
            dt,
            self.params.area_rng[a],
        )
    }

    /// Detection statuses of cell `c` at area range `a` (D x T: [`matching::IGNORED`],
    /// `TRUE_POSITIVE` or `FALSE_POSITIVE`) and its number of not-ignored ground truths.
    pub fn statuses(&self, c: usize, a: usize) -> (&[u8], u32) {
        let cell = &self.cells[c];
        let block = self.params.iou_thrs.len() * cell.dt.len();
        let at = cell.dt_at * self.params.iou_thrs.len();
        let npig = self.npig[c * self.params.area_rng.len() + a];
        (&self.status[a][at..at + block], npig)
    }

    /// Detection rows (into the `dt` columns) of cell `c` in score order, truncated.
    pub fn cell_dt(&self, c: usize) -> &[u32] {
        &self.cells[c].dt
    }

    /// Scores of the detections of cell `c`, in its order.
    pub fn cell_scores(&self, c: usize) -> &[f64] {
        let cell = &self.cells[c];
        &self.scores[cell.dt_at..cell.dt_at + cell.dt.len()]
    }

    /// Ground-truth rows of cell `c` in `getAnnIds` order.
    pub fn cell_gt(&self, c: usize) -> &[u32] {
        &self.cells[c].gt
    }
}

/// The matching of every cell at every area range ([`matching::match_cell`]), cells in
/// parallel in contiguous runs: each run writes its cells' statuses and not-ignored counts
/// into its own stretch of the arenas returned (statuses per area range at `dt_at * T`;
/// counts C x A), through one reused buffer (no allocation per cell).
fn match_cells(
    params: &Params,
    cells: &mut [Cell],
    gt: &Anns,
    dt: &Anns,
    work: usize,
) -> (Vec<Vec<u8>>, Vec<u32>) {
    let (nt, na) = (params.iou_thrs.len(), params.area_rng.len());
    let total: usize = cells.iter().map(|c| c.dt.len() * nt).sum();
    let mut arenas: Vec<Vec<u8>> = (0..na).map(|_| vec![0u8; total]).collect();
    let mut npig = vec![0u32; cells.len() * na];
    let parallel = parallel::worth_parallel(cells.len(), work * na);
    // Runs of cells (several per thread, for balance), each with its stretch of every arena.
    let per_run = cells.len().div_ceil(if parallel { 64 } else { 1 }).max(1);
    type Task<'a> = (&'a mut [Cell], Vec<&'a mut [u8]>, &'a mut [u32]);
    let mut tasks: Vec<Task<'_>> = Vec::new();
    let mut rests: Vec<&mut [u8]> = arenas.iter_mut().map(|v| v.as_mut_slice()).collect();
    let mut counts = npig.as_mut_slice();
    for run in cells.chunks_mut(per_run) {
        let len: usize = run.iter().map(|c| c.dt.len() * nt).sum();
        let mut outs = Vec::with_capacity(na);
        for rest in rests.iter_mut() {
            let (head, tail) = std::mem::take(rest).split_at_mut(len);
            outs.push(head);
            *rest = tail;
        }
        let (head, tail) = std::mem::take(&mut counts).split_at_mut(run.len() * na);
        counts = tail;
        tasks.push((run, outs, head));
    }
    let one = |(run, mut outs, counts): Task<'_>| {
        let mut matcher = matching::Matcher::default();
        let mut buf = Vec::new();
        let base = run.first().map_or(0, |c| c.dt_at * nt);
        for (j, c) in run.iter_mut().enumerate() {
            let n = matching::match_cell(params, c, gt, dt, &mut matcher, &mut buf);
            counts[j * na..(j + 1) * na].copy_from_slice(&n[..na]);
            let (block, at) = (c.dt.len() * nt, c.dt_at * nt - base);
            for (a, out) in outs.iter_mut().enumerate() {
                out[at..at + block].copy_from_slice(&buf[a * block..(a + 1) * block]);
            }
        }
    };
    if parallel {
        parallel::install(|| tasks.into_par_iter().for_each(one));
    } else {
        tasks.into_iter().for_each(one);
    }
    (arenas, npig)
}

/// Runs `f` over every cell, in parallel when worth it; the first error in cell order.
fn for_cells(
    cells: &mut [Cell],
    work: usize,
    f: impl Fn(&mut Cell) -> Result<()> + Sync + Send,
) -> Result<()> {
    let results: Vec<Result<()>> = if parallel::worth_parallel(cells.len(), work) {
        parallel::install(|| cells.par_iter_mut().map(&f).collect())
    } else {
        cells.iter_mut().map(&f).collect()
    };
    results.into_iter().collect()
}

/// The masks of one side with what `rleIou` computes once per mask: its box and, for
/// canonical runs, its foreground intervals. Packed masks are left packed: each is decoded
/// in its cell (every detection lies in one cell), so they are never all decoded at once.
struct Masks<'a> {
    rles: &'a [Rle],
    boxes: Vec<[f64; 4]>,
    fg: Vec<Option<ops::Foreground>>,
    packed: Option<&'a Packed>,
}

/// A mask with its box and foreground intervals.
type Measured = (Rle, [f64; 4], Option<ops::Foreground>);

fn measure(rle: Rle) -> Result<Measured> {
    let b = ops::to_bbox(&rle)?;
    let fg = ops::Foreground::of(&rle);
    Ok((rle, b, fg))
}

impl<'a> Masks<'a> {
    fn of(anns: &'a Anns) -> Result<Masks<'a>> {
        let rles: &[Rle] = match &anns.geometry {
            Geometry::Masks(m) => m,
            Geometry::Packed(p) => {
                return Ok(Masks {
                    rles: &[],
                    boxes: Vec::new(),
                    fg: Vec::new(),
                    packed: Some(p),
                })
            }
            _ => &[],
        };
        let runs: usize = rles.iter().map(|r| r.counts.len()).sum();
        let each = |(i, r): (usize, &Rle)| -> Result<([f64; 4], Option<ops::Foreground>)> {
            Ok((
                ops::to_bbox(r).map_err(|e| e.at_item(i))?,
                ops::Foreground::of(r),
            ))
        };
        let both: Vec<Result<_>> = if parallel::worth_parallel(rles.len(), runs) {
            parallel::install(|| rles.par_iter().enumerate().map(each).collect())
        } else {
            rles.iter().enumerate().map(each).collect()
        };
        let (boxes, fg) = both
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        Ok(Masks {
            rles,
            boxes,
            fg,
            packed: None,
        })
    }

    /// Rows `rows` decoded and measured, where this side is packed (else empty).
    fn unpack(&self, rows: &[u32]) -> Result<Vec<Measured>> {
        let Some(p) = self.packed else {
            return Ok(Vec::new());
        };
        rows.iter()
            .map(|&r| {
                p.get(r as usize)
                    .and_then(measure)
                    .map_err(|e| e.at_item(r as usize))
            })
            .collect()
    }

    /// Mask `row` (the `j`-th of the cell, for a packed side) with its box and foreground.
    fn at<'m>(
        &'m self,
        local: &'m [Measured],
        j: usize,
        row: usize,
    ) -> (&'m Rle, &'m [f64; 4], Option<&'m ops::Foreground>) {
        match local.get(j) {
            Some((r, b, fg)) => (r, b, fg.as_ref()),
            None => (&self.rles[row], &self.boxes[row], self.fg[row].as_ref()),
        }
    }
}

impl Cell {
    /// `maskUtils.iou` of the cell's boxes (`bbIou`).
    fn box_ious(&mut self, gt: &Anns, dt: &Anns) {
        let (Geometry::Boxes(gb), Geometry::Boxes(db)) = (&gt.geometry, &dt.geometry) else {
            return;
        };
        if self.dt.is_empty() || self.gt.is_empty() {
            return;
        }
        let mut out = smallvec::SmallVec::with_capacity(self.dt.len() * self.gt.len());
        for &g in &self.gt {
            let (g, crowd) = (&gb[g as usize], gt.crowd[g as usize]);
            out.extend(
                self.dt
                    .iter()
                    .map(|&d| ops::bbox_iou(&db[d as usize], g, crowd)),
            );
        }
        self.ious = out;
    }

    /// `maskUtils.iou` of the cell's masks (`rleIou`).
    fn mask_ious(&mut self, gt: &Anns, gm: &Masks<'_>, dm: &Masks<'_>) -> Result<()> {
        if self.dt.is_empty() || self.gt.is_empty() {
            return Ok(());
        }
        let gl = gm.unpack(&self.gt).map_err(|e| e.in_list("gt"))?;
        let dl = dm.unpack(&self.dt).map_err(|e| e.in_list("dt"))?;
        let mut out = smallvec::SmallVec::with_capacity(self.dt.len() * self.gt.len());
        for (gj, &g) in self.gt.iter().enumerate() {
            let g = g as usize;
            let crowd = gt.crowd[g];
            let (g_rle, g_box, g_fg) = gm.at(&gl, gj, g);
            for (dj, &d) in self.dt.iter().enumerate() {
                let d = d as usize;
                let (d_rle, d_box, d_fg) = dm.at(&dl, dj, d);
                let v = ops::rle_iou_with_boxes((d_rle, d_fg), d_box, (g_rle, g_fg), g_box, crowd)
                    .map_err(|e| {
                        Error::Eval(format!(
                            "detection row {d} against ground-truth row {g}: {e}"
                        ))
                    })?;
                out.push(v);
            }
        }
        self.ious = out;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Keypoints;

    #[test]
    fn hidden_keypoints_read_as_zeros_of_their_length_between_kept_ones() {
        let mut kp = Keypoints::default();
        kp.push(&[1.0, 2.0, 2.0]);
        kp.push_hidden(6);
        kp.adopt(vec![5.0, 6.0, 1.0, 7.0, 8.0, 0.0]);
        assert!(kp.push_range(0, 6));
        kp.push_hidden(3);
        assert_eq!(kp.len(), 4);
        assert_eq!(kp.of(0), &[1.0, 2.0, 2.0]);
        assert_eq!(kp.of(1), &[0.0; 6]);
        assert_eq!(kp.of(2), &[5.0, 6.0, 1.0, 7.0, 8.0, 0.0]);
        assert_eq!(kp.of(3), &[0.0; 3]);
        // Visible is v > 0 in whole triples: NaN, 0, -0.0 and negatives are not, nor a
        // partial triple's last value.
        assert!(!Keypoints::any_visible(&[
            1.0,
            2.0,
            f64::NAN,
            3.0,
            4.0,
            -0.0,
            5.0,
            6.0
        ]));
        assert!(!Keypoints::any_visible(&[
            1.0, 2.0, -1.0, 3.0, 4.0, 0.0, 5.0
        ]));
        assert!(Keypoints::any_visible(&[1.0, 2.0, 0.0, 3.0, 4.0, 1e-300]));
        assert!(!kp.of(1).is_empty() && !Keypoints::any_visible(kp.of(1)));
        // No `keypoints` at all: no values, and told apart from an empty list.
        kp.push_absent();
        kp.push(&[]);
        assert!(kp.of(4).is_empty() && kp.is_absent(4));
        assert!(kp.of(5).is_empty() && !kp.is_absent(5));
        assert!(!kp.is_absent(1) && !kp.is_absent(2));
    }
}
