//! Operations on run lengths, never on decoded pixels: area, bounding box, merge and IoU.
//! Each is a port of `maskApi.c` (pycocotools 2.0.11) keeping its unsigned 32-bit arithmetic,
//! so that results are bit-identical on every input pycocotools handles without undefined
//! behaviour.

use super::Rle;
use crate::error::{Error, Result};

/// Foreground pixel count (`rleArea`): the sum of the odd runs, wrapping in 32 bits as C does.
pub fn area(rle: &Rle) -> u32 {
    area_of_counts(&rle.counts)
}

/// [`area`] of the runs `counts`.
pub fn area_of_counts(counts: &[u32]) -> u32 {
    counts
        .chunks_exact(2)
        .fold(0u32, |a, pair| a.wrapping_add(pair[1]))
}

/// Bounding box `[x, y, width, height]` of the foreground (`rleToBbox`, 2.0.11 version).
///
/// Parity: an odd trailing run is ignored (it is a background run, which adds nothing); with
/// fewer than two runs the box is all zeros; zero-length foreground runs are skipped, and if all
/// are, the unsigned arithmetic of pycocotools gives `[w, h, 2^32-w+1, 2^32-h+1]`, reproduced
/// here. A foreground run in a mask of height 0 (a division by zero in pycocotools) is an error.
pub fn to_bbox(rle: &Rle) -> Result<[f64; 4]> {
    bbox_of_counts(rle.h, rle.w, &rle.counts)
}

/// [`to_bbox`] of the runs `counts` of an `h` x `w` mask.
///
/// When the runs pycocotools reads (an even number) sum below 2^32, its `uint` positions never
/// wrap and only increase, so the box's columns come from the first and last nonempty
/// foreground runs alone, and a run crosses a column boundary exactly when its start row plus
/// its length passes `h`. The position is followed as (column, row): a background run usually
/// ends one column further on, so a subtraction replaces the division, which only runs that
/// pass several boundaries need; the two halves of the runs are walked side by side
/// ([`ColumnWalk`]), the second from its start's column and row. Otherwise (impossible for
/// runs that cover the mask) [`BboxAcc`] follows C's wrapping arithmetic run by run.
pub fn bbox_of_counts(h: u64, w: u64, counts: &[u32]) -> Result<[f64; 4]> {
    let read = &counts[..counts.len() / 2 * 2];
    // The walk's position is a serial chain through every run (about 7 cycles a pair): the
    // runs are cut in two halves walked side by side, the second from its start position.
    let mid = read.len() / 4 * 2;
    let (front, back) = read.split_at(mid);
    let sum_of = |runs: &[u32]| -> u64 { runs.iter().map(|&c| u64::from(c)).sum() };
    let skipped = sum_of(front);
    if h == 0 || skipped + sum_of(back) > u64::from(u32::MAX) {
        let mut acc = BboxAcc::new(h, w);
        counts.iter().for_each(|&c| acc.push(c));
        return acc.finish();
    }
    if counts.len() < 2 {
        return Ok([0.0; 4]);
    }
    let (h32, w32) = (h as u32, w as u32);
    let mut a = ColumnWalk::new(0, 0, h32);
    let mut b = ColumnWalk::new((skipped / h) as u32, skipped % h, h32);
    let mut back_pairs = back.chunks_exact(2);
    for (pa, pb) in front.chunks_exact(2).zip(back_pairs.by_ref()) {
        a.step(pa[0], pa[1], h);
        b.step(pb[0], pb[1], h);
    }
    for pb in back_pairs {
        b.step(pb[0], pb[1], h);
    }
    let first = a.first.min(b.first);
    let last = if b.first != u32::MAX { b.last } else { a.last };
    let (ys, ye) = (a.ys.min(b.ys), a.ye.max(b.ye));
    // pycocotools starts from xs = w (runs past the mask's end can have columns beyond it).
    let (xs, xe) = if first != u32::MAX {
        (w32.min(first), last)
    } else {
        (w32, 0)
    };
    Ok([
        f64::from(xs),
        f64::from(ys),
        f64::from(xe.wrapping_sub(xs).wrapping_add(1)),
        f64::from(ye.wrapping_sub(ys).wrapping_add(1)),
    ])
}

/// A walk over (background, foreground) run pairs of a column-major mask of height `h`, from
/// column `x`, row `y`, keeping what the box needs: the rows spanned and the columns of the
/// first and last nonempty foreground runs.
struct ColumnWalk {
    x: u32,
    /// At most `h`: a run that ends at the bottom leaves `y == h` for the next carry.
    y: u64,
    ys: u32,
    ye: u32,
    first: u32,
    last: u32,
}

impl ColumnWalk {
    fn new(x: u32, y: u64, h: u32) -> Self {
        ColumnWalk {
            x,
            y,
            ys: h,
            ye: 0,
            first: u32::MAX,
            last: 0,
        }
    }

    #[inline(always)]
    fn step(&mut self, background: u32, run: u32, h: u64) {
        let (background, run) = (u64::from(background), u64::from(run));
        // The background run usually ends one column further on: that carry is a select, not
        // a branch, since columns crossed by several objects make its outcome unpredictable.
        self.y += background;
        let carry = self.y >= h;
        self.y -= if carry { h } else { 0 };
        self.x += u32::from(carry);
        if self.y >= h {
            // A background run over whole columns (rare): one division.
            self.x += (self.y / h) as u32;
            self.y %= h;
        }
        if run == 0 {
            return;
        }
        // y < h is the foreground run's start row in column x.
        self.first = self.first.min(self.x);
        let end = self.y + run;
        if end <= h {
            self.ys = self.ys.min(self.y as u32);
            self.ye = self.ye.max((end - 1) as u32);
            self.y = end;
        } else {
            // The run crosses a column boundary: the box spans the full height.
            self.ys = 0;
            self.ye = (h - 1) as u32;
            self.x += ((end - 1) / h) as u32;
            self.y = (end - 1) % h + 1;
        }
        self.last = self.x;
    }
}

/// [`to_bbox`] one run at a time, in C's wrapping `uint` arithmetic: the path of
/// [`bbox_of_counts`] for runs whose positions pass 2^32 or a mask of height 0.
#[derive(Debug, Clone, Copy)]
pub struct BboxAcc {
    size: (u64, u64),
    h: u32,
    xs: u32,
    ys: u32,
    xe: u32,
    ye: u32,
    cc: u32,
    runs: usize,
    sum: u64,
    divide_by_zero: bool,
}

impl BboxAcc {
    pub fn new(h: u64, w: u64) -> Self {
        // pycocotools truncates h and w to 32 bits here (sizes are checked below 2^32 anyway).
        let (h32, w32) = (h as u32, w as u32);
        BboxAcc {
            size: (h, w),
            h: h32,
            xs: w32,
            ys: h32,
            xe: 0,
            ye: 0,
            cc: 0,
            runs: 0,
            sum: 0,
            divide_by_zero: false,
        }
    }

    /// pycocotools' loop body for run `j`.
    pub fn push(&mut self, run: u32) {
        let j = self.runs;
        self.runs += 1;
        let start = self.cc;
        self.sum += u64::from(run);
        self.cc = self.cc.wrapping_add(run);
        if j.is_multiple_of(2) || run == 0 {
            return;
        }
        let h = self.h;
        if h == 0 {
            self.divide_by_zero = true;
            return;
        }
        let last = self.cc.wrapping_sub(1);
        let (x_start, y_start) = (start / h, start % h);
        let (x_end, y_end) = (last / h, last % h);
        self.xs = self.xs.min(x_start);
        self.xe = self.xe.max(x_end);
        if x_start < x_end {
            // The run crosses a column boundary: the box spans the full height.
            self.ys = 0;
            self.ye = h - 1;
        } else {
            self.ys = self.ys.min(y_start);
            self.ye = self.ye.max(y_end);
        }
    }

    pub fn finish(&self) -> Result<[f64; 4]> {
        if self.runs < 2 {
            return Ok([0.0; 4]);
        }
        if self.divide_by_zero {
            let (h, w) = self.size;
            return Err(Error::RleCountsSum {
                sum: self.sum,
                h,
                w,
            });
        }
        Ok([
            f64::from(self.xs),
            f64::from(self.ys),
            f64::from(self.xe.wrapping_sub(self.xs).wrapping_add(1)),
            f64::from(self.ye.wrapping_sub(self.ys).wrapping_add(1)),
        ])
    }
}

/// Division and remainder of 32-bit unsigned values by a fixed divisor `d`, exact for every
/// `n < 2^32`, by two multiplications (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019): with `M = ceil(2^64 / d)`, `n / d = (M n) >> 64` and
/// `n % d = ((M n mod 2^64) d) >> 64`. `d = 1` (where `M` needs 65 bits) is special-cased.
#[derive(Debug, Clone, Copy)]
pub struct Divider {
    d: u32,
    m: u64,
}

impl Divider {
    /// A divider by `d`; `d = 0` gives one that must not be used (callers check).
    pub fn new(d: u32) -> Self {
        let m = if d > 1 {
            u64::MAX / u64::from(d) + 1
        } else {
            0
        };
        Divider { d, m }
    }

    pub fn div_rem(&self, n: u32) -> (u32, u32) {
        if self.d <= 1 {
            return (n, 0);
        }
        let product = u128::from(self.m) * u128::from(n);
        let q = (product >> 64) as u32;
        let r = ((u128::from(product as u64) * u128::from(self.d)) >> 64) as u32;
        (q, r)
    }
}

/// Reads the runs of one RLE the way `rleMerge` and `rleIou` do: the current run's remaining
/// length, whether it is foreground, and the next run's index.
struct RunCursor<'a> {
    counts: &'a [u32],
    left: u32,
    on: bool,
    next: usize,
    consumed: u64,
}

impl<'a> RunCursor<'a> {
    /// Pixels consumed so far.
    fn walked(&self) -> u64 {
        self.consumed
    }

    fn new(counts: &'a [u32]) -> Self {
        // pycocotools reads cnts[0] unconditionally (out of bounds when there are no counts).
        RunCursor {
            counts,
            left: counts.first().copied().unwrap_or(0),
            on: false,
            next: 1,
            consumed: 0,
        }
    }

    /// Consumes `c` pixels; when the run is used up, moves to the next one (only one per call,
    /// so an empty run in the middle costs one extra step, exactly as in C).
    fn advance(&mut self, c: u32) {
        self.left -= c;
        self.consumed += u64::from(c);
        if self.left == 0 && self.next < self.counts.len() {
            self.left = self.counts[self.next];
            self.next += 1;
            self.on = !self.on;
        }
    }
}

/// Union (or intersection) of two RLEs of the same size, exactly as one step of `rleMerge`.
/// The walk stops when both current runs are used up at once; with empty runs inside an input
/// that can happen before the last pixel (pycocotools then returns too few pixels): an error.
pub(crate) fn merge_pair(a: &[u32], b: &[u32], intersect: bool) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut ra, mut rb) = (RunCursor::new(a), RunCursor::new(b));
    let (mut v, mut cc) = (false, 0u32);
    loop {
        let c = ra.left.min(rb.left);
        cc = cc.wrapping_add(c);
        ra.advance(c);
        rb.advance(c);
        let ct = ra.left.wrapping_add(rb.left);
        let vp = v;
        v = if intersect {
            ra.on && rb.on
        } else {
            ra.on || rb.on
        };
        if v != vp || ct == 0 {
            out.push(cc);
            cc = 0;
        }
        if ct == 0 {
            break;
        }
    }
    walked_to_the_end(ra.walked(), a)?;
    Ok(out)
}

/// Checks that a run walk consumed every pixel of the runs it walked.
fn walked_to_the_end(walked: u64, counts: &[u32]) -> Result<()> {
    let pixels = counts.iter().map(|&c| u64::from(c)).sum();
    if walked == pixels {
        Ok(())
    } else {
        Err(Error::RleWalkEndsEarly { walked, pixels })
    }
}

/// Union (`intersect == false`) or intersection of `rles` (`rleMerge`), by pycocotools' own
/// sequential run walk.
///
/// Parity: no RLE gives size 0x0 with no counts; one RLE is returned unchanged; any size that
/// differs from the first gives size 0x0 with no counts; the walk reproduces pycocotools run
/// for run, including its treatment of empty runs. (`batch::merge` takes a faster path for many
/// canonical RLEs, with the same output.)
///
/// Runs that do not cover the mask exactly are an error: pycocotools loops forever on them (its
/// walk never ends once one input is exhausted) or writes past its buffer.
pub fn merge(rles: &[Rle], intersect: bool) -> Result<Rle> {
    let Some(first) = rles.first() else {
        return Ok(Rle::default());
    };
    if rles.len() == 1 {
        return Ok(first.clone());
    }
    let (h, w) = (first.h, first.w);
    if rles.iter().any(|r| r.h != h || r.w != w) {
        return Ok(Rle::default());
    }
    for (i, r) in rles.iter().enumerate() {
        r.check_covers(h, w).map_err(|e| e.at_item(i))?;
    }
    let mut counts = first.counts.clone();
    for r in &rles[1..] {
        counts = merge_pair(&counts, &r.counts, intersect)?;
    }
    Ok(Rle { h, w, counts })
}

/// IoU of two RLEs of the same size by walking their runs (`rleIou`'s inner loop). With
/// `crowd`, the denominator is the area of `dt`. No intersection gives 0. Both must cover the
/// mask (checked by the caller): with different run totals the C walk never ends.
fn rle_pair_iou(dt: &Rle, gt: &Rle, crowd: bool) -> Result<f64> {
    let (mut a, mut b) = (RunCursor::new(&dt.counts), RunCursor::new(&gt.counts));
    let (mut inter, mut union) = (0u32, 0u32);
    loop {
        let c = a.left.min(b.left);
        if a.on || b.on {
            union = union.wrapping_add(c);
            if a.on && b.on {
                inter = inter.wrapping_add(c);
            }
        }
        a.advance(c);
        b.advance(c);
        if a.left.wrapping_add(b.left) == 0 {
            break;
        }
    }
    walked_to_the_end(a.walked(), &dt.counts)?;
    if inter == 0 {
        union = 1;
    } else if crowd {
        union = area(dt);
    }
    Ok(f64::from(inter) / f64::from(union))
}

/// The foreground of a canonical RLE as sorted, disjoint `[start, end)` pixel intervals, with
/// its area: the form the fast IoU path works on.
#[derive(Debug, Clone, Default)]
pub struct Foreground {
    intervals: Vec<(u32, u32)>,
    area: u32,
}

impl Foreground {
    /// `None` unless `rle` is canonical (for other RLEs only the exact run walk of pycocotools
    /// gives its results, empty runs included).
    pub fn of(rle: &Rle) -> Option<Foreground> {
        if !rle.is_canonical() {
            return None;
        }
        let mut intervals = Vec::with_capacity(rle.counts.len() / 2);
        let mut pos = 0u32;
        for (i, &c) in rle.counts.iter().enumerate() {
            if i % 2 == 1 {
                intervals.push((pos, pos + c));
            }
            pos += c;
        }
        Some(Foreground {
            intervals,
            area: area(rle),
        })
    }
}

/// Pixels in both foregrounds, walking only where both have intervals: each list's intervals
/// that end before the other's first starts are skipped by binary search, and the walk stops
/// once either list's next interval starts after the other's last ends.
fn intersection(a: &[(u32, u32)], b: &[(u32, u32)]) -> u32 {
    let (Some(&(a_first, _)), Some(&(_, a_last))) = (a.first(), a.last()) else {
        return 0;
    };
    let (Some(&(b_first, _)), Some(&(_, b_last))) = (b.first(), b.last()) else {
        return 0;
    };
    let mut i = a.partition_point(|&(_, end)| end <= b_first);
    let mut j = b.partition_point(|&(_, end)| end <= a_first);
    let mut inter = 0u32;
    while i < a.len() && j < b.len() {
        let (a0, a1) = a[i];
        let (b0, b1) = b[j];
        if a0 >= b_last || b0 >= a_last {
            break;
        }
        let (lo, hi) = (a0.max(b0), a1.min(b1));
        if lo < hi {
            inter += hi - lo;
        }
        if a1 < b1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    inter
}

/// IoU of two canonical RLEs of the same size from their foregrounds. Equal, bit for bit, to
/// the run walk: on canonical runs the walk counts exactly the pixels in both (`i`) and in
/// either (`u = area_a + area_b - i`), in 32-bit arithmetic that cannot wrap below 2^32 pixels.
pub fn foreground_iou(dt: &Foreground, gt: &Foreground, crowd: bool) -> f64 {
    let inter = intersection(&dt.intervals, &gt.intervals);
    if inter == 0 {
        return 0.0;
    }
    let union = if crowd {
        dt.area
    } else {
        dt.area.wrapping_add(gt.area).wrapping_sub(inter)
    };
    f64::from(inter) / f64::from(union)
}

/// IoU of two boxes `[x, y, w, h]` (`bbIou`), or 0 when they do not overlap. With `crowd`, the
/// denominator is the area of `dt`. Same operation order as the C code (fmin/fmax return the
/// other operand for NaN, as Rust's `min`/`max` do).
pub fn bbox_iou(dt: &[f64; 4], gt: &[f64; 4], crowd: bool) -> f64 {
    let (da, ga) = (dt[2] * dt[3], gt[2] * gt[3]);
    let w = (dt[2] + dt[0]).min(gt[2] + gt[0]) - dt[0].max(gt[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (dt[3] + dt[1]).min(gt[3] + gt[1]) - dt[1].max(gt[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let u = if crowd { da } else { da + ga - i };
    i / u
}

/// IoU of two RLEs given their boxes (`rleIou` for one pair): the run walk happens only where
/// the boxes overlap; a size mismatch there gives -1.
pub fn rle_iou_with_boxes(
    dt: (&Rle, Option<&Foreground>),
    dt_box: &[f64; 4],
    gt: (&Rle, Option<&Foreground>),
    gt_box: &[f64; 4],
    crowd: bool,
) -> Result<f64> {
    let ((dt, dt_fg), (gt, gt_fg)) = (dt, gt);
    let o = bbox_iou(dt_box, gt_box, crowd);
    // `o > 0` is false for NaN too: such pairs keep the box value, as in C.
    if o.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Ok(o);
    }
    if dt.h != gt.h || dt.w != gt.w {
        return Ok(-1.0);
    }
    match (dt_fg, gt_fg) {
        (Some(a), Some(b)) => Ok(foreground_iou(a, b, crowd)),
        _ => {
            // Runs that do not cover the mask would never end pycocotools' walk: refuse them,
            // but only here, where a walk happens (elsewhere pycocotools returns 0 or -1).
            dt.check_covers(dt.h, dt.w)?;
            gt.check_covers(gt.h, gt.w)?;
            rle_pair_iou(dt, gt, crowd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rle::mask;

    fn rle(h: u64, w: u64, counts: &[u32]) -> Rle {
        Rle {
            h,
            w,
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn divider_is_exact() {
        let mut rng = crate::test_rng::Rng::new(0x9e37_79b9_7f4a_7c15_u64);
        let mut next = || rng.next_u64();
        let random: Vec<u32> = (0..4000).map(|_| next() as u32).collect();
        let edges = [0u32, 1, 2, 3, 479, 480, 481, u32::MAX - 1, u32::MAX];
        let mut divisors = vec![1u32, 2, 3, 5, 7, 480, 640, 1 << 16, (1 << 31) + 1, u32::MAX];
        divisors.extend(random[..200].iter().map(|&d| d.max(1)));
        for d in divisors {
            let div = Divider::new(d);
            for &n in edges.iter().chain(&random) {
                assert_eq!(div.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }

    #[test]
    fn bbox_fast_path_equals_the_run_walk() {
        // Random canonical and non-canonical runs (empty runs, short and long sums).
        let mut rng = crate::test_rng::Rng::new(0x2545_f491_4f6c_dd1d_u64);
        let mut next = |m: u64| rng.below(m);
        for _ in 0..5000 {
            let (h, w) = (1 + next(40), 1 + next(40));
            let n = next(40) as usize;
            let mut counts = Vec::with_capacity(n);
            for _ in 0..n {
                let bound = match next(6) {
                    0 => 3,
                    1 => 5 * h * w,
                    _ => 2 * h,
                };
                counts.push(next(bound) as u32);
            }
            let mut acc = BboxAcc::new(h, w);
            counts.iter().for_each(|&c| acc.push(c));
            assert_eq!(
                bbox_of_counts(h, w, &counts),
                acc.finish(),
                "{h} {w} {counts:?}"
            );
        }
    }

    #[test]
    fn area_and_bbox() {
        let r = rle(3, 3, &[4, 1, 4]);
        assert_eq!(area(&r), 1);
        assert_eq!(to_bbox(&r), Ok([1.0, 1.0, 1.0, 1.0]));
        // A run crossing columns spans the full height.
        assert_eq!(to_bbox(&rle(3, 3, &[2, 2, 5])), Ok([0.0, 0.0, 2.0, 3.0]));
        assert_eq!(to_bbox(&rle(3, 3, &[9])), Ok([0.0; 4]));
        // Only empty foreground runs: pycocotools' unsigned wrap.
        let wrap = to_bbox(&rle(4, 5, &[3, 0, 17, 0]));
        assert_eq!(
            wrap,
            Ok([5.0, 4.0, (4_294_967_296u64 - 5 + 1) as f64, 4_294_967_293.0])
        );
        assert!(to_bbox(&rle(0, 5, &[0, 3])).is_err());
    }

    #[test]
    fn merge_matches_pixelwise_and_paths_agree() {
        // Deterministic pseudo-random canonical masks.
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for trial in 0..300 {
            // Small masks of scattered pixels, then larger ones of long runs (pixel counts
            // on and off 64-pixel words, runs across them).
            let (h, w) = if trial < 50 {
                (7 + trial % 5, 9 + trial % 3)
            } else {
                (1 + u64::from(next() % 70), 1 + u64::from(next() % 30))
            };
            // Up to 40 inputs, sometimes a full or empty one (which settles a union or an
            // intersection for good: batch::merge then only checks the rest).
            let n = 2 + trial as usize % 12 + if trial % 3 == 0 { 26 } else { 0 };
            let masks: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    if next() % 7 == 0 {
                        return vec![u8::from(next() % 2 == 0); (h * w) as usize];
                    }
                    if trial < 50 {
                        return (0..h * w).map(|_| u8::from(next() % 3 == 0)).collect();
                    }
                    let mut m = Vec::with_capacity((h * w) as usize);
                    let mut value = 0u8;
                    while m.len() < (h * w) as usize {
                        let run = 1 + (next() % 90) as usize;
                        m.extend(std::iter::repeat_n(
                            value,
                            run.min((h * w) as usize - m.len()),
                        ));
                        value ^= 1;
                    }
                    m
                })
                .collect();
            let rles: Vec<Rle> = masks.iter().map(|m| mask::encode(m, h, w)).collect();
            for intersect in [false, true] {
                let want: Vec<u8> = (0..(h * w) as usize)
                    .map(|p| {
                        let mut it = masks.iter().map(|m| m[p] == 1);
                        u8::from(if intersect {
                            it.all(|b| b)
                        } else {
                            it.any(|b| b)
                        })
                    })
                    .collect();
                let mut seq = rles[0].counts.clone();
                for r in &rles[1..] {
                    seq = merge_pair(&seq, &r.counts, intersect).unwrap_or_default();
                }
                let cov = crate::rle::batch::merge(&rles, intersect)
                    .map(|r| r.counts)
                    .unwrap_or_default();
                assert_eq!(seq, cov);
                assert_eq!(seq, mask::encode(&want, h, w).counts);
                assert_eq!(merge(&rles, intersect).map(|r| r.counts), Ok(seq));
            }
        }
    }

    #[test]
    fn merge_edge_cases() {
        assert_eq!(merge(&[], false), Ok(Rle::default()));
        let a = rle(2, 2, &[1, 3]);
        assert_eq!(merge(std::slice::from_ref(&a), false), Ok(a.clone()));
        assert_eq!(
            merge(&[a.clone(), rle(4, 1, &[4])], false),
            Ok(Rle::default())
        );
        // Runs that do not cover the mask: pycocotools hangs, cocors refuses.
        assert!(merge(&[a.clone(), rle(2, 2, &[1, 2])], false).is_err());
        // Empty runs inside an input are walked as in C and may survive in the output.
        let b = rle(5, 1, &[2, 0, 0, 3]);
        assert_eq!(
            merge(&[b.clone(), rle(5, 1, &[5])], false).map(|r| r.counts),
            Ok(vec![2, 0, 0, 3])
        );
        // Both current runs used up at once before the end: pycocotools drops the last pixels.
        let a = rle(12, 10, &[99, 7, 1, 9, 0, 0, 4]);
        let early = merge(&[a, rle(12, 10, &[48, 68, 0, 0, 1, 1, 2])], true);
        assert!(matches!(early, Err(Error::RleWalkEndsEarly { .. })));
        // Both current runs used up at once before the end: pycocotools drops the last pixels.
        let a = rle(12, 10, &[99, 7, 1, 9, 0, 0, 4]);
        let early = merge(&[a, rle(12, 10, &[48, 68, 0, 0, 1, 1, 2])], true);
        assert!(matches!(early, Err(Error::RleWalkEndsEarly { .. })));
    }

    #[test]
    fn foreground_iou_equals_the_run_walk() {
        // Random canonical masks: empty, full, one blob, scattered, blobs at either end (so
        // that one list's intervals all come before or after the other's, and the skips and
        // the early stop of `intersection` are taken).
        let mut rng = crate::test_rng::Rng::new(0x10_0f_1e);
        for _ in 0..3000 {
            let (h, w) = (1 + rng.below(30), 1 + rng.below(30));
            let n = (h * w) as usize;
            let mut mask = || -> Vec<u8> {
                let (lo, hi) = {
                    let a = rng.below(n as u64 + 1) as usize;
                    let b = rng.below(n as u64 + 1) as usize;
                    (a.min(b), a.max(b))
                };
                let dense = rng.below(4);
                (0..n)
                    .map(|p| u8::from((lo..hi).contains(&p) && rng.below(4) < dense + 1))
                    .collect()
            };
            let (a, b) = (mask::encode(&mask(), h, w), mask::encode(&mask(), h, w));
            let (fa, fb) = (Foreground::of(&a), Foreground::of(&b));
            assert!(fa.is_some() && fb.is_some(), "canonical masks");
            let (Some(fa), Some(fb)) = (fa, fb) else {
                continue;
            };
            for crowd in [false, true] {
                let walk = rle_pair_iou(&a, &b, crowd).map(f64::to_bits);
                assert_eq!(Ok(foreground_iou(&fa, &fb, crowd).to_bits()), walk);
            }
        }
    }

    #[test]
    fn iou_pairs() {
        let a = rle(3, 3, &[0, 4, 5]);
        let b = rle(3, 3, &[2, 4, 3]);
        let (ba, bb) = (
            to_bbox(&a).unwrap_or_default(),
            to_bbox(&b).unwrap_or_default(),
        );
        let (fa, fb) = (Foreground::of(&a), Foreground::of(&b));
        for (pa, pb) in [
            ((&a, None), (&b, None)),
            ((&a, fa.as_ref()), (&b, fb.as_ref())),
        ] {
            assert_eq!(rle_iou_with_boxes(pa, &ba, pb, &bb, false), Ok(2.0 / 6.0));
            assert_eq!(rle_iou_with_boxes(pa, &ba, pb, &bb, true), Ok(2.0 / 4.0));
        }
        let c = rle(9, 1, &[0, 4, 5]);
        let cb = to_bbox(&c).unwrap_or_default();
        assert_eq!(
            rle_iou_with_boxes((&a, None), &ba, (&c, None), &cb, false),
            Ok(-1.0)
        );
        assert_eq!(
            bbox_iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 1.0, 2.0, 2.0], false),
            1.0 / 7.0
        );
        assert_eq!(
            bbox_iou(&[0.0, 0.0, 1.0, 1.0], &[1.0, 1.0, 2.0, 2.0], false),
            0.0
        );
    }
}
