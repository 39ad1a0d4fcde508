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
//! cocors does not store the dense boundary (pycocotools allocates it): the points are
//! streamed through step 3 as they are generated, with the same arithmetic.

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
    h_f: f64,
    prev: Option<(i32, i32)>,
    positions: Vec<u32>,
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
        let yd = f64::from(if v < pv { v } else { pv });
        let mut yd = (yd + 0.5) / SCALE - 0.5;
        if yd < 0.0 {
            yd = 0.0;
        } else if yd > self.h_f {
            yd = self.h_f;
        }
        // ceil without a libm call: yd is in [0, h] here, exactly representable as an i64.
        let floor = yd as i64 as f64;
        let yd = if floor < yd { floor + 1.0 } else { floor };
        // pycocotools: a = (uint)(x*(int)h + y) in int arithmetic.
        let (x, y) = (xd, yd as i32);
        let pos = x.wrapping_mul(self.h as u32 as i32).wrapping_add(y);
        self.positions.push(pos as u32);
    }
}

/// Rasterises the polygon `xy = [x0, y0, x1, y1, ...]` (an odd trailing value is ignored, as in
/// pycocotools) into an `h` x `w` mask.
pub fn from_polygon(xy: &[f64], h: u64, w: u64) -> Result<Rle> {
    check_size(h, w)?;
    if let Some((position, &value)) = xy.iter().enumerate().find(|(_, v)| !coordinate_ok(**v)) {
        return Err(Error::BadCoordinate { position, value });
    }
    let k = xy.len() / 2;
    let up: Vec<(i32, i32)> = (0..k)
        .map(|j| {
            (
                c_int(SCALE * xy[2 * j] + 0.5),
                c_int(SCALE * xy[2 * j + 1] + 0.5),
            )
        })
        .collect();

    let mut crossings = ColumnCrossings {
        h,
        w_minus_1: w.wrapping_sub(1),
        h_f: h as f64,
        prev: None,
        // About one kept point per 5 upsampled columns walked: size it once, not by doubling.
        positions: Vec::with_capacity(
            up.iter()
                .zip(up.iter().cycle().skip(1))
                .map(|(a, b)| (a.0 - b.0).unsigned_abs() as usize)
                .sum::<usize>()
                / 5
                + 2,
        ),
    };
    for j in 0..k {
        let (xs0, ys0) = up[j];
        let (xe0, ye0) = up[(j + 1) % k];
        walk_edge(xs0, ys0, xe0, ye0, &mut crossings);
    }

    // Step 4.
    let mut a = crossings.positions;
    a.push((h * w) as u32);
    // Boundary order leaves the positions in a few long monotone runs, which the stable
    // (run-detecting) sort merges in near-linear time; equal u32s make the order immaterial.
    a.sort();
    let mut prev = 0u32;
    for v in a.iter_mut() {
        let t = *v;
        *v = v.wrapping_sub(prev);
        prev = t;
    }
    let mut counts: Vec<u32> = Vec::with_capacity(a.len());
    let mut j = 0;
    if let Some(&first) = a.first() {
        counts.push(first);
        j = 1;
    }
    while j < a.len() {
        if a[j] > 0 {
            counts.push(a[j]);
            j += 1;
        } else {
            j += 1;
            if j < a.len() {
                if let Some(last) = counts.last_mut() {
                    *last = last.wrapping_add(a[j]);
                }
                j += 1;
            }
        }
    }
    Ok(Rle { h, w, counts })
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
        // x-major: u moves by one column per step, so a step can only be kept (step 3) when
        // min(u, u_prev) = 5n + 2, one step in five. Visit the first point (it pairs with the
        // previous edge's last point), then only those steps, then record the last point:
        // the same points reach step 3 as when walking every step.
        let s = f64::from(ye - ys) / f64::from(dx);
        let t_of = |d: i32| if flip { dx - d } else { d };
        let v_of = |d: i32| (f64::from(ys) + s * f64::from(t_of(d)) + 0.5) as i32;
        out.push(t_of(0) + xs, v_of(0));
        // Not flipped: min(u_d, u_{d-1}) = xs + d - 1; flipped: it is xs + dx - d.
        let residue = if flip {
            (xs + dx - 2).rem_euclid(5)
        } else {
            (3 - xs).rem_euclid(5)
        };
        let mut d = if residue == 0 { 5 } else { residue };
        while d <= dx {
            out.cross(t_of(d) + xs, t_of(d - 1) + xs, v_of(d), v_of(d - 1));
            d += 5;
        }
        out.prev = Some((t_of(dx) + xs, v_of(dx)));
    } else {
        let s = f64::from(xe - xs) / f64::from(dy);
        for d in 0..=dy {
            let t = if flip { dy - d } else { d };
            out.push((f64::from(xs) + s * f64::from(t) + 0.5) as i32, t + ys);
        }
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
