//! Polygon and box rasterisation (`rleFrPoly` / `rleFrBbox`), bit-exact with pycocotools.
//!
//! Parity rules, in the order pycocotools applies them:
//! 1. Upsample by 5: `x = (int)(5*x + .5)`, C truncation toward zero (not floor); close the ring.
//! 2. Walk each edge along its major axis, both endpoints included, after swapping endpoints when
//!    `(dx>=dy && xs>xe) || (dx<dy && ys>ye)`; the slope is a double, `s = (ye-ys)/dx`, and each
//!    minor coordinate is `(int)(ys + s*t + .5)` with `t = flip ? dx-d : d`. No FMA contraction
//!    (Rust never contracts). A zero-length edge has `s = NaN`, and x86's `(int)NaN` is INT_MIN;
//!    [`c_int`] reproduces that, although such a point never reaches the output.
//! 3. Wherever the upsampled x changes, take `xd = ((u<u_prev ? u : u-1) + .5)/5 - .5` and keep
//!    the point only if `xd` is an integer in `[0, w-1]`; its row is
//!    `ceil(clamp((min(v, v_prev) + .5)/5 - .5, 0, h))`.
//! 4. Sort the positions `x*h + y` (32-bit int arithmetic) with `h*w` appended, take differences,
//!    and fold each zero difference together with the value after it into the previous run.
//!
//! cocors does not walk the dense boundary (pycocotools allocates it, about five points per pixel
//! of perimeter): step 3 keeps only steps that cross a column boundary `5n + 2` of the mask,
//! so each edge visits exactly those (x-major edges by arithmetic, steep ones by solving for the
//! step and checking it with the walk's own rounding), with the same arithmetic for what it
//! keeps. Step 4 sorts by counting per column. The walk itself stays as the fallback for huge
//! coordinates and as the oracle of a unit test.

use super::{check_size, Rle};
use crate::error::{Error, Result};

/// Largest accepted |coordinate|: keeps `5*x` and every difference of two upsampled coordinates
/// inside the C `int` arithmetic that pycocotools uses (beyond it pycocotools overflows).
pub const COORD_LIMIT: f64 = 1.0e8;

/// Finite and within [`COORD_LIMIT`] (NaN fails).
fn coordinate_ok(v: f64) -> bool {
    v.is_finite() && v.abs() <= COORD_LIMIT
}

/// Upsampling factor of the boundary walk.
const SCALE: f64 = 5.0;

/// C's `(int)` conversion of a double on x86-64 (`cvttsd2si`): truncation toward zero, and
/// INT_MIN for NaN or out-of-range values (Rust's `as` saturates instead).
fn c_int(x: f64) -> i32 {
    if x.is_nan() || x >= 2_147_483_648.0 || x <= -2_147_483_649.0 {
        i32::MIN
    } else {
        x as i32
    }
}

/// Step 3 of the walk: receives upsampled boundary points in order and keeps the positions of
/// the points where the boundary enters a pixel column.
struct ColumnCrossings {
    h: u64,
    /// `w - 1` in pycocotools' unsigned arithmetic (so `u64::MAX` when `w == 0`).
    w_minus_1: u64,
    prev: Option<(i32, i32)>,
    /// Kept points as (column, position `column*h + row`).
    points: Vec<(u32, u32)>,
}

impl ColumnCrossings {
    fn push(&mut self, u: i32, v: i32) {
        if let Some((pu, pv)) = self.prev {
            if u != pu {
                self.cross(u, pu, v, pv);
            }
        }
        self.prev = Some((u, v));
    }

    fn cross(&mut self, u: i32, pu: i32, v: i32, pv: i32) {
        let x5 = if u < pu { u } else { u - 1 };
        // pycocotools computes xd = (x5 + .5)/5 - .5 in doubles and keeps it if it is an integer
        // in [0, w-1]. For |x5| < 2^31 that double is exact when x5 = 5n + 2 (it is then n) and
        // at least 0.1 away from any integer otherwise, so the integer test below is the same
        // test without a division on every boundary point.
        if x5.rem_euclid(5) != 2 {
            return;
        }
        let xd = (x5 - 2) / 5;
        if xd < 0 || xd as u64 > self.w_minus_1 {
            return;
        }
        self.kept(xd, if v < pv { v } else { pv });
    }

    /// Records the kept point of column `xd` whose upsampled row is `v_min`.
    ///
    /// pycocotools: `yd = ceil(clamp((v_min + .5)/5 - .5, 0, h))` in doubles. `(v + .5)/5 - .5`
    /// is `(v - 2)/5`: exact when `v = 5k + 2` (each step is then exact) and otherwise at least
    /// 0.2 from an integer, far beyond the rounding error, so its ceil is the integer
    /// `floor((v + 2)/5)`; ceil and a clamp to integer bounds commute.
    fn kept(&mut self, xd: i32, v_min: i32) {
        // floor((v + 2)/5) clamped to [0, h]: negative quotients clamp to 0 anyway.
        let y = ((i64::from(v_min) + 2).max(0) as u64 / 5).min(self.h) as i32;
        // pycocotools: a = (uint)(x*(int)h + y) in int arithmetic.
        let pos = xd.wrapping_mul(self.h as u32 as i32).wrapping_add(y);
        self.points.push((xd as u32, pos as u32));
    }

    /// The columns `n` in `[0, w-1]` whose boundary `c = 5n + 2` lies in `[lo, hi - 1]`: where
    /// the upsampled x moves between `c` and `c + 1` on an edge spanning `[lo, hi]`, step 3 keeps
    /// the point (see [`ColumnCrossings::cross`]).
    fn columns(&self, lo: i32, hi: i32) -> std::ops::RangeInclusive<i32> {
        let first = (lo + 2).div_euclid(5).max(0); // ceil((lo - 2) / 5)
        let last = (hi - 3).div_euclid(5); // floor((hi - 1 - 2) / 5)
        let last = if last >= 0 && last as u64 > self.w_minus_1 {
            self.w_minus_1 as i32
        } else {
            last
        };
        first..=last
    }
}

/// Buffers of [`from_polygon`] kept from one polygon to the next on each thread (the upsampled
/// vertices, the kept points, the counting sort's buckets): allocating them anew for every
/// polygon was a tenth of its time. Buffers grown past [`SCRATCH_KEEP`] entries are dropped.
#[derive(Default)]
struct Scratch {
    up: Vec<(i32, i32)>,
    points: Vec<(u32, u32)>,
    starts: Vec<usize>,
}

const SCRATCH_KEEP: usize = 1 << 16;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Rasterises the polygon `xy = [x0, y0, x1, y1, ...]` (an odd trailing value is ignored, as in
/// pycocotools) into an `h` x `w` mask.
pub fn from_polygon(xy: &[f64], h: u64, w: u64) -> Result<Rle> {
    check_size(h, w)?;
    if let Some((position, &value)) = xy.iter().enumerate().find(|(_, v)| !coordinate_ok(**v)) {
        return Err(Error::BadCoordinate { position, value });
    }
    // The thread's buffers, or fresh ones where they are unavailable (a thread being torn
    // down).
    SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => rasterise(xy, h, w, &mut scratch),
            Err(_) => rasterise(xy, h, w, &mut Scratch::default()),
        })
        .unwrap_or_else(|_| rasterise(xy, h, w, &mut Scratch::default()))
}

/// [`from_polygon`] of checked input, with `scratch`'s buffers.
fn rasterise(xy: &[f64], h: u64, w: u64, scratch: &mut Scratch) -> Result<Rle> {
    let k = xy.len() / 2;
    let up = &mut scratch.up;
    up.clear();
    up.extend((0..k).map(|j| {
        (
            c_int(SCALE * xy[2 * j] + 0.5),
            c_int(SCALE * xy[2 * j + 1] + 0.5),
        )
    }));
    let mut points = std::mem::take(&mut scratch.points);
    points.clear();
    // About one kept point per 5 upsampled columns an edge walks, and at most one per column
    // of the mask (an edge far outside it keeps nothing, and must not reserve gigabytes):
    // size it once, not by doubling.
    let columns = usize::try_from(w).unwrap_or(usize::MAX);
    points.reserve(
        up.iter()
            .zip(up.iter().cycle().skip(1))
            .map(|(a, b)| ((a.0 - b.0).unsigned_abs() as usize / 5 + 1).min(columns))
            .sum::<usize>()
            + 2,
    );
    let mut crossings = ColumnCrossings {
        h,
        w_minus_1: w.wrapping_sub(1),
        prev: None,
        points,
    };
    for j in 0..k {
        let (xs0, ys0) = up[j];
        let (xe0, ye0) = up[(j + 1) % k];
        walk_edge(xs0, ys0, xe0, ye0, &mut crossings);
    }

    // Step 4.
    let mut a = sorted_positions(&crossings.points, h, w, &mut scratch.starts);
    scratch.points = crossings.points;
    let kept = [
        scratch.up.capacity(),
        scratch.points.capacity(),
        scratch.starts.capacity(),
    ];
    if kept.iter().any(|&capacity| capacity > SCRATCH_KEEP) {
        *scratch = Scratch::default();
    }
    let mut prev = 0u32;
    for v in a.iter_mut() {
        let t = *v;
        *v = v.wrapping_sub(prev);
        prev = t;
    }
    // Fold each zero difference and the value after it into the previous run, in place (the
    // write index never passes the read index).
    let mut m = 0;
    let mut j = 0;
    while j < a.len() {
        if m == 0 || a[j] > 0 {
            a[m] = a[j];
            m += 1;
            j += 1;
        } else {
            j += 1;
            if j < a.len() {
                a[m - 1] = a[m - 1].wrapping_add(a[j]);
                j += 1;
            }
        }
    }
    a.truncate(m);
    let counts = a;
    Ok(Rle { h, w, counts })
}

/// The positions of the kept points and `h*w`, in increasing order (pycocotools qsorts them;
/// equal u32s make the order of ties immaterial).
///
/// A polygon's points spread over a few hundred columns, about two per column, so a counting
/// sort by column followed by an insertion sort inside each column beats a comparison sort.
/// This is a sort of the positions because `position = column*h + row` with `row <= h` and
/// `w*h < 2^32` (check_size): columns order positions, ties (`row == h` against the next
/// column's row 0) are equal values, and `h*w` comes last. With `w == 0` pycocotools keeps
/// every column and `h*w` is 0, so that case takes the comparison sort.
fn sorted_positions(points: &[(u32, u32)], h: u64, w: u64, starts: &mut Vec<usize>) -> Vec<u32> {
    let (lo, hi) = points
        .iter()
        .fold((u32::MAX, 0), |(lo, hi), &(c, _)| (lo.min(c), hi.max(c)));
    let span = hi.wrapping_sub(lo) as usize + 1;
    let mut out: Vec<u32> = Vec::with_capacity(points.len() + 1);
    if points.len() < 16 || w == 0 || span > 4 * points.len() {
        out.extend(points.iter().map(|&(_, p)| p));
        out.push((h * w) as u32);
        out.sort_unstable();
        return out;
    }
    starts.clear();
    starts.resize(span + 1, 0);
    for &(c, _) in points {
        starts[(c - lo) as usize + 1] += 1;
    }
    for i in 1..=span {
        starts[i] += starts[i - 1];
    }
    out.resize(points.len(), 0);
    // Scatter, advancing each bucket's start: afterwards starts[b] is where bucket b ends.
    for &(c, p) in points {
        let slot = &mut starts[(c - lo) as usize];
        out[*slot] = p;
        *slot += 1;
    }
    for b in 0..span {
        let begin = if b == 0 { 0 } else { starts[b - 1] };
        let bucket = &mut out[begin..starts[b]];
        if let [x, y] = bucket {
            // The usual case (a column entered and left once), without a branch on the data.
            let (lo, hi) = (*x.min(y), *x.max(y));
            (*x, *y) = (lo, hi);
            continue;
        }
        for i in 1..bucket.len() {
            let mut j = i;
            while j > 0 && bucket[j - 1] > bucket[j] {
                bucket.swap(j - 1, j);
                j -= 1;
            }
        }
    }
    out.push((h * w) as u32);
    out
}

/// The minor coordinate of step `t` of an edge starting at `start` with slope `s`:
/// pycocotools' `(int)(start + s*t + .5)`, truncating toward zero, no FMA.
#[inline]
fn minor(start: i32, s: f64, t: i32) -> i32 {
    (f64::from(start) + s * f64::from(t) + 0.5) as i32
}

/// Step 2 for one edge: emits its upsampled points, both ends included, in walking order.
fn walk_edge(xs0: i32, ys0: i32, xe0: i32, ye0: i32, out: &mut ColumnCrossings) {
    let dx = (xe0 - xs0).abs();
    let dy = (ys0 - ye0).abs();
    let flip = (dx >= dy && xs0 > xe0) || (dx < dy && ys0 > ye0);
    let (xs, xe, ys, ye) = if flip {
        (xe0, xs0, ye0, ys0)
    } else {
        (xs0, xe0, ys0, ye0)
    };
    if dx >= dy {
        // x-major: u = xs + t moves by one column per step; the step from t-1 to t is kept
        // (step 3) when its min(u) = xs + t - 1 is a boundary 5n + 2, and its min(v) is v(t-1),
        // or v(t) on a falling edge (v is monotone in t). Neither depends on the walking
        // direction, so visit those steps only: the same points reach step 3 as when walking
        // every step. The first point pairs with the previous edge's last point.
        let s = f64::from(ye - ys) / f64::from(dx);
        let v_of = |t: i32| minor(ys, s, t);
        let t_first = if flip { dx } else { 0 };
        out.push(xs + t_first, v_of(t_first));
        let later = i32::from(ye < ys);
        for n in out.columns(xs, xs + dx) {
            let t = 5 * n + 2 - xs; // the step from t to t + 1 crosses the boundary
            out.kept(n, v_of(t + later));
        }
        let t_last = if flip { 0 } else { dx };
        out.prev = Some((xs + t_last, v_of(t_last)));
    } else {
        let s = f64::from(xe - xs) / f64::from(dy);
        let u_of = |t: i32| minor(xs, s, t);
        let t_first = if flip { dy } else { 0 };
        out.push(u_of(t_first), t_first + ys);
        if xs.unsigned_abs().max(xe.unsigned_abs()) < SMALL && dy < SMALL as i32 {
            steep_crossings(xs, ys, dy, s, out);
        } else {
            walk_steep(xs, ys, dy, s, flip, out);
        }
        let t_last = if flip { 0 } else { dy };
        out.prev = Some((u_of(t_last), t_last + ys));
    }
}

/// Every step of a y-major edge after the first, as pycocotools walks it.
fn walk_steep(xs: i32, ys: i32, dy: i32, s: f64, flip: bool, out: &mut ColumnCrossings) {
    for d in 1..=dy {
        let t = if flip { dy - d } else { d };
        out.push(minor(xs, s, t), t + ys);
    }
}

/// Bound on upsampled coordinates below which a steep edge's column changes can be found
/// directly (see [`steep_crossings`]).
const SMALL: u32 = 1 << 20;

/// The kept column changes of a y-major edge (`dx < dy`), without walking its `dy` steps.
///
/// Along the edge `u(t) = (int)(xs + s*t + .5)` is monotone in `t` (every operation in it is
/// monotone), and with coordinates below [`SMALL`] one step moves it by less than one (|s| <=
/// 1 - 2^-20 while the rounding error is below 2^-30), so it changes by exactly one where it
/// changes. Step 3 of such a change between `t-1` and `t` depends only on `min(u)` and
/// `min(v) = ys + t - 1`, not on the walking direction, and keeps it only when
/// `min(u) = 5n + 2` with `n` in `[0, w-1]`. So for each such column boundary `c` this finds
/// the first `t` past it, from an estimate corrected with the walk's own arithmetic: the same
/// points as walking every step, found in O(dx/5) instead of O(dy).
fn steep_crossings(xs: i32, ys: i32, dy: i32, s: f64, out: &mut ColumnCrossings) {
    let u_of = |t: i32| minor(xs, s, t);
    let (u0, u1) = (u_of(0), u_of(dy));
    let (lo, hi) = (u0.min(u1), u0.max(u1));
    let rising = u1 > u0;
    let inv = 1.0 / s;
    for n in out.columns(lo, hi) {
        let c = 5 * n + 2;
        // First t with u(t) past c: u(t) >= c + 1 when rising, u(t) <= c when falling.
        let past = |t: i32| if rising { u_of(t) > c } else { u_of(t) <= c };
        // The estimate is within 1e-9 of the real crossing, so the first t past c is floor(it)
        // or the next one, except near a tie in the walk's rounding: decide between the two
        // without branching on the data, and walk from there only if neither is it.
        let guess = (f64::from(c) + 0.5 - f64::from(xs)) * inv;
        let t0 = if guess.is_nan() {
            1
        } else {
            (guess as i32).clamp(1, dy)
        };
        let (before, at, after) = (past(t0 - 1), past(t0), past(t0 + 1));
        let mut t = t0 + i32::from(!at);
        let found = if at { !before } else { after };
        if !found {
            t = t.clamp(1, dy);
            while t > 1 && past(t - 1) {
                t -= 1;
            }
            while t < dy && !past(t) {
                t += 1;
            }
        }
        out.kept(n, ys + t - 1);
    }
}

/// Rasterises the box `[x, y, width, height]` as the polygon `[xs,ys, xs,ye, xe,ye, xe,ys]`, as
/// pycocotools' `rleFrBbox` does.
pub fn from_bbox(bb: [f64; 4], h: u64, w: u64) -> Result<Rle> {
    let (xs, ys) = (bb[0], bb[1]);
    let (xe, ye) = (xs + bb[2], ys + bb[3]);
    from_polygon(&[xs, ys, xs, ye, xe, ye, xe, ys], h, w).map_err(|e| match e {
        // Report the position in the box, not in the derived polygon.
        Error::BadCoordinate { .. } => {
            let position = bb.iter().position(|v| !coordinate_ok(*v)).unwrap_or(2);
            let value = bb.get(position).copied().unwrap_or(f64::NAN);
            Error::BadCoordinate { position, value }
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rle::ops::area;

    #[test]
    fn published_examples() {
        // shared/PARITY.md: a 10x10 square has area 100; bbox [.5,.5,1,1] is the pixel (1,1).
        let sq = from_polygon(&[0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0], 20, 20);
        assert_eq!(sq.map(|r| area(&r)), Ok(100));
        let px = from_bbox([0.5, 0.5, 1.0, 1.0], 3, 3);
        assert_eq!(px.map(|r| r.counts), Ok(vec![4, 1, 4]));
    }

    #[test]
    fn degenerate_polygons_are_empty() {
        assert_eq!(from_polygon(&[], 4, 5).map(|r| r.counts), Ok(vec![20]));
        assert_eq!(
            from_polygon(&[1.0, 1.0], 4, 5).map(|r| r.counts),
            Ok(vec![20])
        );
        let dup = from_polygon(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 4, 5);
        assert_eq!(dup.map(|r| r.counts), Ok(vec![20]));
    }

    #[test]
    fn steep_crossings_equal_the_walk() {
        // Every y-major edge with small coordinates, both directions, narrow and clipped masks.
        let mut rng = crate::test_rng::Rng::new(0x2545_f491_4f6c_dd1d_u64);
        let mut next = |m: i32| rng.below(m as u64) as i32;
        for case in 0..20_000 {
            let (h, w) = (1 + next(300) as u64, 1 + next(300) as u64);
            let xs = next(1800) - 150;
            let ys = next(1800) - 150;
            let dy = 1 + next(if case % 2 == 0 { 40 } else { 1600 });
            let dx = next(dy) * if next(2) == 0 { 1 } else { -1 };
            for flip in [false, true] {
                let s = f64::from(dx) / f64::from(dy);
                let t0 = if flip { dy } else { 0 };
                let crossings = |fast: bool| {
                    let mut c = ColumnCrossings {
                        h,
                        w_minus_1: w - 1,
                        prev: Some((minor(xs, s, t0), ys + t0)),
                        points: Vec::new(),
                    };
                    if fast {
                        steep_crossings(xs, ys, dy, s, &mut c);
                    } else {
                        walk_steep(xs, ys, dy, s, flip, &mut c);
                    }
                    sorted_positions(&c.points, h, w, &mut Vec::new())
                };
                assert_eq!(
                    crossings(true),
                    crossings(false),
                    "{xs} {ys} {dx} {dy} {flip} {h} {w}"
                );
            }
        }
    }

    #[test]
    fn zero_width_keeps_every_column() {
        // pycocotools' w - 1 wraps, so every column is kept and h*w = 0 sorts first.
        let r = from_polygon(&[0.0, 0.0, 2.0, 0.0, 2.0, 0.0], 1, 0);
        assert_eq!(r.map(|r| r.counts), Ok(vec![0, 1]));
    }

    #[test]
    fn c_int_matches_x86() {
        assert_eq!(c_int(f64::NAN), i32::MIN);
        assert_eq!(c_int(-2.5), -2);
        assert_eq!(c_int(2.9), 2);
        assert_eq!(c_int(3e9), i32::MIN);
    }

    #[test]
    fn rejects_absurd_coordinates() {
        let bad = from_polygon(&[0.0, 0.0, f64::NAN, 1.0, 2.0, 2.0], 4, 4);
        assert!(matches!(bad, Err(Error::BadCoordinate { position: 2, .. })));
        let huge = from_bbox([0.0, 0.0, 1e300, 1.0], 4, 4);
        assert!(matches!(
            huge,
            Err(Error::BadCoordinate { position: 2, .. })
        ));
    }
}
