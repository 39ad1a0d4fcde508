//! The Mask API over batches, in parallel on the cocors pool. Every output item is computed by
//! exactly one task with the same code as the single-item operation, so results never depend on
//! the thread count. When several items are bad, the error names the first one (in input
//! order), whatever thread found it.

use rayon::prelude::*;

use super::{codec, cover::Cover, mask, ops, poly, Packed, Rle};
use crate::error::{Error, Result};
use crate::parallel;

/// Maps `f` over `items` in parallel when the batch is big enough (`cost` is a rough count of
/// elementary steps for the whole batch), keeping input order.
fn map<T: Sync, R: Send>(items: &[T], cost: usize, f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if parallel::worth_parallel(items.len(), cost) {
        parallel::install(|| items.par_iter().map(&f).collect())
    } else {
        items.iter().map(f).collect()
    }
}

/// Like [`map`] for fallible `f`: the first error in input order, tagged with its item index.
fn try_map<T: Sync, R: Send>(
    items: &[T],
    cost: usize,
    f: impl Fn(&T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    map(items, cost, f)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| e.at_item(i)))
        .collect()
}

/// One RLE as it arrives from the outside: a size and either a counts string or run lengths.
#[derive(Debug, Clone, Copy)]
pub enum RleInput<'a> {
    Compressed { h: u64, w: u64, counts: &'a [u8] },
    Uncompressed { h: u64, w: u64, counts: &'a [u32] },
}

/// Parses a batch of RLEs (strings decoded in parallel).
pub fn parse(items: &[RleInput<'_>]) -> Result<Vec<Rle>> {
    try_map(items, input_cost(items), |item| match *item {
        RleInput::Compressed { h, w, counts } => Rle::from_counts_string(h, w, counts),
        RleInput::Uncompressed { h, w, counts } => Rle::new(h, w, counts.to_vec()),
    })
}

fn input_cost(items: &[RleInput<'_>]) -> usize {
    items
        .iter()
        .map(|i| match i {
            RleInput::Compressed { counts, .. } => counts.len(),
            RleInput::Uncompressed { counts, .. } => counts.len(),
        })
        .sum()
}

/// Area of one input RLE (a string decoded in `buf`).
fn area_of_input(buf: &mut Vec<u32>, item: &RleInput<'_>) -> Result<u32> {
    match *item {
        RleInput::Compressed { h, w, counts } => {
            super::check_size(h, w)?;
            codec::decode_area(counts, buf)
        }
        RleInput::Uncompressed { h, w, counts } => {
            super::check_size(h, w)?;
            Ok(ops::area_of_counts(counts))
        }
    }
}

/// Areas of input RLEs.
pub fn areas_of_inputs(items: &[RleInput<'_>]) -> Result<Vec<u32>> {
    let mut out = vec![0; items.len()];
    areas_of_inputs_into(items, &mut out)?;
    Ok(out)
}

/// [`areas_of_inputs`] written into `out` (one slot per item), so that a caller handing over a
/// long list in blocks writes straight into its result.
pub fn areas_of_inputs_into(items: &[RleInput<'_>], out: &mut [u32]) -> Result<()> {
    try_fill(items, out, 1, |buf, item, slot: &mut [u32]| {
        slot[0] = area_of_input(buf, item)?;
        Ok(())
    })
}

/// Runs `f(scratch, item, slot)` for each item and its slot of `out` (`width` values each), in parallel when the batch is big enough, with one `scratch` buffer per
/// worker. On failure returns the first error in input order, tagged with its item index
/// (found again sequentially: errors are rare, and the pool may meet a later one first).
fn try_fill<R: Send>(
    items: &[RleInput<'_>],
    out: &mut [R],
    width: usize,
    f: impl Fn(&mut Vec<u32>, &RleInput<'_>, &mut [R]) -> Result<()> + Sync + Send,
) -> Result<()> {
    let expected = items.len() * width;
    if out.len() != expected || width == 0 {
        return Err(Error::OutputSize {
            expected,
            got: out.len(),
        });
    }
    let first_error = |out: &mut [R]| {
        let mut scratch = Vec::new();
        for (i, (item, slot)) in items.iter().zip(out.chunks_mut(width)).enumerate() {
            f(&mut scratch, item, slot).map_err(|e| e.at_item(i))?;
        }
        Ok(())
    };
    if !parallel::worth_parallel(items.len(), input_cost(items)) {
        return first_error(out);
    }
    let ok = parallel::install(|| {
        items
            .par_iter()
            .zip(out.par_chunks_mut(width))
            .try_for_each_init(Vec::new, |scratch, (item, slot)| f(scratch, item, slot))
    });
    match ok {
        Ok(()) => Ok(()),
        Err(_) => first_error(out),
    }
}

/// Bounding box of one input RLE: its string decoded into `buf` (feeding the decoder's runs
/// straight into a per-run accumulator measured slower than the two passes), then
/// [`ops::bbox_of_counts`].
fn bbox_of_input(buf: &mut Vec<u32>, item: &RleInput<'_>) -> Result<[f64; 4]> {
    match *item {
        RleInput::Compressed { h, w, counts } => {
            super::check_size(h, w)?;
            ops::bbox_of_counts(h, w, codec::decode_counts_with(counts, buf)?)
        }
        RleInput::Uncompressed { h, w, counts } => {
            super::check_size(h, w)?;
            ops::bbox_of_counts(h, w, counts)
        }
    }
}

/// Bounding boxes of input RLEs.
pub fn bboxes_of_inputs(items: &[RleInput<'_>]) -> Result<Vec<[f64; 4]>> {
    let mut flat = vec![0.0; items.len() * 4];
    bboxes_of_inputs_into(items, &mut flat)?;
    Ok(flat
        .chunks_exact(4)
        .map(|b| [b[0], b[1], b[2], b[3]])
        .collect())
}

/// Bounding boxes of input RLEs written into `out`, four values `[x, y, w, h]` per item.
pub fn bboxes_of_inputs_into(items: &[RleInput<'_>], out: &mut [f64]) -> Result<()> {
    try_fill(items, out, 4, |buf, item, slot: &mut [f64]| {
        slot.copy_from_slice(&bbox_of_input(buf, item)?);
        Ok(())
    })
}

/// The runs of one input RLE (a string is decoded into `buf`) if none is empty but the first
/// (background) one, in a pass the compiler vectorises; whether they cover the mask is left to
/// the caller. `None` for anything else: such input needs pycocotools' exact run walk.
fn nonempty_runs<'a>(item: &'a RleInput<'_>, buf: &'a mut Vec<u32>) -> Option<&'a [u32]> {
    let runs: &[u32] = match *item {
        RleInput::Compressed { h, w, counts } => {
            super::check_size(h, w).ok()?;
            codec::decode_counts_with(counts, buf).ok()?
        }
        RleInput::Uncompressed { counts, .. } => counts,
    };
    (runs.iter().skip(1).fold(u32::MAX, |m, &r| m.min(r)) > 0).then_some(runs)
}

/// [`nonempty_runs`] that also cover exactly the mask of `pixels` pixels: canonical runs.
fn canonical_runs<'a>(
    item: &'a RleInput<'_>,
    buf: &'a mut Vec<u32>,
    pixels: usize,
) -> Option<&'a [u32]> {
    let runs = nonempty_runs(item, buf)?;
    let sum: u64 = runs.iter().map(|&r| u64::from(r)).sum();
    (sum == pixels as u64).then_some(runs)
}

/// Adds the foreground runs (`foreground`) or the background runs of `runs` (none empty but
/// the first) to `cover`; returns whether they cover exactly the mask of `pixels` pixels
/// (it stops at the first run that ends past the mask: the input is not canonical).
fn mark_runs(runs: &[u32], cover: &mut Cover, pixels: usize, foreground: bool) -> bool {
    // Positions in 64 bits, so that runs summing past the address space cannot wrap around to
    // a valid total.
    let (mut pos, pixels) = (0u64, pixels as u64);
    let mut pairs = runs.chunks_exact(2);
    for pair in pairs.by_ref() {
        let (gap, len) = (u64::from(pair[0]), u64::from(pair[1]));
        let start = pos + gap;
        // One addition on the chain from pair to pair, not two.
        let end = pos + (gap + len);
        if end > pixels {
            // Positions only grow: the runs cannot end at the mask's end.
            return false;
        }
        if foreground {
            cover.add(start as usize, end as usize);
        } else {
            cover.add(pos as usize, start as usize);
        }
        pos = end;
    }
    if let [background] = pairs.remainder() {
        let end = pos + u64::from(*background);
        if !foreground {
            cover.add(pos as usize, end as usize);
        }
        pos = end;
    }
    pos == pixels
}

/// Adds one input RLE's runs of one kind to `cover` ([`mark_runs`]); false (with `cover`
/// partly set) unless its runs are canonical.
fn mark_canonical(
    item: &RleInput<'_>,
    buf: &mut Vec<u32>,
    cover: &mut Cover,
    pixels: usize,
    foreground: bool,
) -> bool {
    nonempty_runs(item, buf).is_some_and(|runs| mark_runs(runs, cover, pixels, foreground))
}

/// The pixels in a foreground (`foreground`) or background run of any of the canonical
/// input RLEs of `pixels` pixels: shares of the inputs added on the pool threads and
/// joined; `None` as soon as one input is not canonical.
fn cover_of_inputs(items: &[RleInput<'_>], pixels: usize, foreground: bool) -> Option<Cover> {
    let mark = |part: &[RleInput<'_>]| {
        let mut cover = Cover::new(pixels);
        let mut buf = Vec::new();
        part.iter()
            .all(|item| mark_canonical(item, &mut buf, &mut cover, pixels, foreground))
            .then_some(cover)
    };
    let threads = parallel::num_threads();
    if threads < 2
        || items.len() < 2 * threads
        || !parallel::worth_parallel(items.len(), input_cost(items))
    {
        return mark(items);
    }
    let share = items.len().div_ceil(threads);
    let parts: Vec<Option<Cover>> =
        parallel::install(|| items.par_chunks(share).map(mark).collect());
    let mut total: Option<Cover> = None;
    for part in parts {
        let part = part?;
        match total.as_mut() {
            None => total = Some(part),
            Some(t) => t.union_with(&part),
        }
    }
    total
}

/// Union or intersection of many canonical RLEs of `pixels` pixels (`None` as soon as one is
/// not): pycocotools' pairwise walk while the result so far stays about as short as the next
/// input, as it does for intersections (which shrink) and unions of nested masks, each step
/// then costing about that input's runs; once the result has grown past that, every further
/// step would walk it again, and the remaining inputs are covered instead, the result so far
/// with them. On canonical input both give the walk's runs.
fn merge_many(items: &[RleInput<'_>], pixels: usize, intersect: bool) -> Option<Vec<u32>> {
    let (first, rest) = items.split_first()?;
    let mut buf = Vec::new();
    let mut merged = canonical_runs(first, &mut buf, pixels)?.to_vec();
    for (i, item) in rest.iter().enumerate() {
        let runs = canonical_runs(item, &mut buf, pixels)?;
        if merged.len() > 2 * runs.len() + 8 {
            // This input is decoded already: marked here, the ones after it by the pool.
            let mut cover = cover_of_inputs(rest.get(i + 1..)?, pixels, !intersect)?;
            for done in [&merged[..], runs] {
                mark_runs(done, &mut cover, pixels, !intersect).then_some(())?;
            }
            return Some(cover.runs(intersect));
        }
        // An empty intersection or a full union stays so: the input only needs checking.
        let settled = if intersect {
            merged.len() == 1
        } else {
            merged.len() == 2 && merged.first() == Some(&0)
        };
        if !settled {
            merged = ops::merge_pair(&merged, runs, intersect).ok()?;
        }
    }
    Some(merged)
}

/// Largest mask merged through a [`Cover`] (a byte a pixel of scratch memory per thread:
/// 64 MB); larger ones take the walk.
const COVER_MAX_PIXELS: usize = 1 << 26;

/// Union (or intersection) of input RLEs, with `ops::merge`'s results. Many canonical RLEs of
/// one size are merged straight from their strings ([`merge_many`]): walked pairwise while the
/// result stays short, else through a [`Cover`] of the mask, where the union sets every
/// foreground run and the intersection is the complement of every background run set; both
/// give the canonical runs that the walk gives on canonical input. Anything else is parsed and
/// goes through `ops::merge`, pycocotools' exact run walk.
pub fn merge_inputs(items: &[RleInput<'_>], intersect: bool) -> Result<Rle> {
    let size = |item: &RleInput<'_>| match *item {
        RleInput::Compressed { h, w, .. } | RleInput::Uncompressed { h, w, .. } => (h, w),
    };
    if let Some(first) = items.first() {
        let (h, w) = size(first);
        let same_size = items.iter().all(|i| size(i) == (h, w));
        if items.len() > 1 && same_size && super::check_size(h, w).is_ok() {
            let pixels = (h * w) as usize;
            // The walk costs about the runs of the result so far plus the next input's, per
            // input (bytes stand in for runs), some 2 ns a run; the cover about 0.2 ns a pixel
            // to clear and sweep, plus its share of the runs. Measured crossing on 640x480
            // masks of 450 runs: about a dozen inputs (`examples/maskbench.rs`).
            let sequential_cost = input_cost(items).saturating_mul(items.len()) / 2;
            if sequential_cost > pixels / 8 && pixels <= COVER_MAX_PIXELS {
                if let Some(counts) = merge_many(items, pixels, intersect) {
                    return Ok(Rle { h, w, counts });
                }
            }
        }
    }
    ops::merge(&parse(items)?, intersect)
}

/// [`merge_inputs`] of parsed RLEs.
pub fn merge(rles: &[Rle], intersect: bool) -> Result<Rle> {
    let inputs: Vec<RleInput<'_>> = rles
        .iter()
        .map(|r| RleInput::Uncompressed {
            h: r.h,
            w: r.w,
            counts: &r.counts,
        })
        .collect();
    merge_inputs(&inputs, intersect)
}

/// Counts strings of a batch of RLEs.
pub fn to_strings(rles: &[Rle]) -> Vec<Vec<u8>> {
    let cost = rles.iter().map(|r| r.counts.len()).sum();
    map(rles, cost, Rle::counts_string)
}

/// Encodes `n` column-major masks of `h*w` bytes stored one after the other in `pixels`
/// (`n` is needed for masks of zero pixels, which all encode as the single run `[0]`).
pub fn encode(pixels: &[u8], h: u64, w: u64, n: usize) -> Result<Vec<Rle>> {
    super::check_size(h, w)?;
    let area = (h * w) as usize;
    if area == 0 {
        return Ok(vec![mask::encode(&[], h, w); n]);
    }
    let masks: Vec<&[u8]> = pixels.chunks(area).take(n).collect();
    Ok(map(&masks, pixels.len() / 8, |m| mask::encode(m, h, w)))
}

/// Decodes `rles` into `out`, one `h*w` slice each in order, where `h` x `w` is the size of the
/// first RLE (as pycocotools sizes its output). Each RLE's runs must cover exactly that many
/// pixels. With `zeroed`, `out` holds zeros and only foreground runs are written.
pub fn decode_into(rles: &[Rle], out: &mut [u8], zeroed: bool) -> Result<()> {
    let Some(first) = rles.first() else {
        return Ok(());
    };
    super::check_size(first.h, first.w)?;
    let area = first.pixels() as usize;
    if out.len() != area * rles.len() {
        return Err(Error::RleCountsSum {
            sum: out.len() as u64,
            h: first.h,
            w: first.w,
        });
    }
    // Validate first so that the error names the first bad item.
    for (i, r) in rles.iter().enumerate() {
        r.check_covers(first.h, first.w).map_err(|e| e.at_item(i))?;
    }
    if area == 0 {
        return Ok(());
    }
    let mut slots: Vec<(&Rle, &mut [u8])> = rles.iter().zip(out.chunks_mut(area)).collect();
    let work = |slot: &mut (&Rle, &mut [u8])| mask::decode_into(slot.0, slot.1, zeroed);
    let results: Vec<Result<()>> = if parallel::worth_parallel(rles.len(), area * rles.len() / 8) {
        parallel::install(|| slots.par_iter_mut().map(work).collect())
    } else {
        slots.iter_mut().map(work).collect()
    };
    results
        .into_iter()
        .enumerate()
        .try_for_each(|(i, r)| r.map_err(|e| e.at_item(i)))
}

/// Bounding boxes of a batch.
pub fn bboxes(rles: &[Rle]) -> Result<Vec<[f64; 4]>> {
    let cost = rles.iter().map(|r| r.counts.len()).sum();
    try_map(rles, cost, ops::to_bbox)
}

/// The RLEs of polygons, all of size `h` x `w`, as counts strings (one buffer for the block,
/// which another thread reads and frees), made on the calling thread: one
/// block of a batch that the caller spreads over the pool itself (see
/// [`parallel::pipeline`]). An error names its item counted from `first`, the block's place
/// in the batch.
pub fn polygon_strings(polygons: &[&[f64]], first: usize, h: u64, w: u64) -> Result<Packed> {
    let mut out = Packed::default();
    for (i, p) in polygons.iter().enumerate() {
        poly::from_polygon(p, h, w)
            .and_then(|rle| out.push_runs(h, w, &rle.counts))
            .map_err(|e| e.at_item(first + i))?;
    }
    Ok(out)
}

/// RLEs of boxes `[x, y, width, height]`, all of size `h` x `w`.
pub fn from_bboxes(boxes: &[[f64; 4]], h: u64, w: u64) -> Result<Vec<Rle>> {
    super::check_size(h, w)?;
    try_map(boxes, boxes.len() * 256, |b| poly::from_bbox(*b, h, w))
}

/// Column `g` of an IoU matrix in Fortran order: `m` values, one per detection.
fn iou_column(out: &mut [f64], f: impl Fn(usize) -> f64) {
    for (d, o) in out.iter_mut().enumerate() {
        *o = f(d);
    }
}

/// Like [`iou_column`] for a fallible `f`: stops at the first error.
fn try_iou_column(out: &mut [f64], f: impl Fn(usize) -> Result<f64>) -> Result<()> {
    for (d, o) in out.iter_mut().enumerate() {
        *o = f(d).map_err(|e| e.at_item(d))?;
    }
    Ok(())
}

/// Detection boxes laid out for the vectorised IoU loop: one array per quantity, computed once
/// with the same operations (and so the same roundings) as `bbIou` computes them per pair.
struct BoxColumns {
    x0: Vec<f64>,
    y0: Vec<f64>,
    x1: Vec<f64>,
    y1: Vec<f64>,
    area: Vec<f64>,
}

impl BoxColumns {
    fn new(boxes: &[[f64; 4]]) -> Self {
        BoxColumns {
            x0: boxes.iter().map(|b| b[0]).collect(),
            y0: boxes.iter().map(|b| b[1]).collect(),
            x1: boxes.iter().map(|b| b[2] + b[0]).collect(),
            y1: boxes.iter().map(|b| b[3] + b[1]).collect(),
            area: boxes.iter().map(|b| b[2] * b[3]).collect(),
        }
    }
}

/// `min`/`max` without NaN handling: on finite input they equal C's `fmin`/`fmax` (the sign of a
/// zero result never matters here, as any w or h of zero means no overlap), and they vectorise.
fn min_f(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

fn max_f(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// One IoU column for finite boxes, branch-free so that it vectorises; same values as
/// [`ops::bbox_iou`] pair by pair.
fn box_iou_column_finite(dt: &BoxColumns, g: &[f64; 4], crowd: bool, out: &mut [f64]) {
    let (gx1, gy1, ga) = (g[2] + g[0], g[3] + g[1], g[2] * g[3]);
    for (d, o) in out.iter_mut().enumerate() {
        let w = min_f(dt.x1[d], gx1) - max_f(dt.x0[d], g[0]);
        let h = min_f(dt.y1[d], gy1) - max_f(dt.y0[d], g[1]);
        let i = w * h;
        let da = dt.area[d];
        let u = if crowd { da } else { da + ga - i };
        let iou = i / u;
        *o = if w > 0.0 && h > 0.0 { iou } else { 0.0 };
    }
}

/// IoU of every box of `dt` with every box of `gt` into `out` (m x n, Fortran order: entry
/// `(d, g)` at `g*m + d`), with the crowd rule for `gt[g]` where `iscrowd[g]`.
pub fn iou_boxes(dt: &[[f64; 4]], gt: &[[f64; 4]], iscrowd: &[bool], out: &mut [f64]) {
    let m = dt.len();
    if m == 0 {
        return;
    }
    let finite = dt.iter().chain(gt).all(|b| b.iter().all(|v| v.is_finite()));
    let cols = BoxColumns::new(dt);
    let column = |(g, col): (usize, &mut [f64])| {
        let crowd = iscrowd.get(g).copied().unwrap_or(false);
        if finite {
            box_iou_column_finite(&cols, &gt[g], crowd, col);
        } else {
            iou_column(col, |d| ops::bbox_iou(&dt[d], &gt[g], crowd));
        }
    };
    if parallel::worth_parallel(gt.len(), m * gt.len() * 4) {
        parallel::install(|| out.par_chunks_mut(m).enumerate().for_each(column));
    } else {
        out.chunks_mut(m).enumerate().for_each(column);
    }
}

/// IoU of every RLE of `dt` with every RLE of `gt` into `out` (m x n, Fortran order), as
/// pycocotools' `rleIou`: runs are compared only where the boxes overlap, and a size mismatch
/// there gives -1. Runs that do not cover their mask are an error where they would be walked.
pub fn iou_rles(dt: &[Rle], gt: &[Rle], iscrowd: &[bool], out: &mut [f64]) -> Result<()> {
    let m = dt.len();
    if m == 0 {
        return Ok(());
    }
    let dt_boxes = bboxes(dt).map_err(|e| e.in_list("dt"))?;
    let gt_boxes = bboxes(gt).map_err(|e| e.in_list("gt"))?;
    let runs: usize = dt.iter().chain(gt).map(|r| r.counts.len()).sum();
    let dt_fg = map(dt, runs, ops::Foreground::of);
    let gt_fg = map(gt, runs, ops::Foreground::of);
    let column = |(g, col): (usize, &mut [f64])| -> Result<()> {
        let crowd = iscrowd.get(g).copied().unwrap_or(false);
        try_iou_column(col, |d| {
            ops::rle_iou_with_boxes(
                (&dt[d], dt_fg[d].as_ref()),
                &dt_boxes[d],
                (&gt[g], gt_fg[g].as_ref()),
                &gt_boxes[g],
                crowd,
            )
        })
        // Names the pair: "gt[g]: dt[d]: ...".
        .map_err(|e| e.in_list("dt").at_item(g).in_list("gt"))
    };
    let results: Vec<Result<()>> =
        if parallel::worth_parallel(gt.len(), runs * 8 + m * gt.len() * 4) {
            parallel::install(|| out.par_chunks_mut(m).enumerate().map(column).collect())
        } else {
            out.chunks_mut(m).enumerate().map(column).collect()
        };
    // The first failing pair in column order.
    results.into_iter().collect()
}
