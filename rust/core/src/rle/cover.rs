//! The union of many pixel ranges of one mask, for merging many RLEs at once: each input's
//! runs of one kind are added as ranges, and the canonical runs of the pixels they cover are
//! read back in one sweep. For hundreds of inputs this is linear in their runs plus the
//! pixels, where pycocotools' pairwise walk is quadratic (see `batch::merge_inputs`).
//!
//! A range costs one byte write, whatever its length up to 255 pixels: pixel `p` keeps the
//! longest reach of a range starting there (a byte, so a longer range is added as pieces of
//! 255). Overlapping ranges need no counting, since a maximum forgets nothing the union
//! needs; the sweep then carries "pixels still covered" from pixel to pixel, 16 at a time.
//! (The bit-per-pixel map used before cost two to four read-modify-writes and a branch on
//! the range's length per range; this is about twice as fast on the benchmark's merge.)

use wide::u8x16;

/// Longest reach one byte holds.
const MAX_REACH: usize = u8::MAX as usize;

/// Pixels `0..pixels` of a column-major mask, covered or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// `reach[p]`: the longest range added that starts at pixel `p` (capped at 255), 0 for
    /// none; padded with zeros to whole 64-pixel words.
    reach: Vec<u8>,
    pixels: usize,
}

impl Cover {
    /// No pixel covered (a byte of memory a pixel).
    pub fn new(pixels: usize) -> Self {
        Cover {
            reach: vec![0; pixels.div_ceil(64) * 64],
            pixels,
        }
    }

    /// Covers pixels `start..end` (both within the mask; an empty range covers nothing).
    #[inline]
    pub fn add(&mut self, start: usize, end: usize) {
        // (Wraps to a huge length where `start > end`: the slow path then adds nothing.)
        let len = end.wrapping_sub(start);
        if len <= MAX_REACH && end <= self.pixels {
            // Nearly every foreground run: one byte, no loop, no test for an empty range (a
            // reach of 0 changes nothing). A fifth off a merge's marking.
            if let Some(slot) = self.reach.get_mut(start) {
                *slot = (*slot).max(len as u8);
            }
            return;
        }
        if start >= end || end > self.pixels {
            return;
        }
        let mut at = start;
        while let Some(slot) = self.reach.get_mut(at) {
            let step = (end - at).min(MAX_REACH);
            *slot = (*slot).max(step as u8);
            at += step;
            if at >= end {
                break;
            }
        }
    }

    /// Covers every pixel covered in `other` (of the same size).
    pub fn union_with(&mut self, other: &Cover) {
        for (r, o) in self.reach.iter_mut().zip(&other.reach) {
            *r = (*r).max(*o);
        }
    }

    /// The canonical runs (starting with uncovered pixels, no empty run but the first) of
    /// the covered pixels, or with `invert` of the uncovered ones.
    pub fn runs(&self, invert: bool) -> Vec<u32> {
        let mut out = Vec::new();
        let flip = if invert { !0u64 } else { 0 };
        // The value of the pixel before the word, and where the current run started.
        let (mut previous, mut run_start) = (0u64, 0usize);
        let mut sweep = Sweep::default();
        for (i, block) in self.reach.chunks_exact(64).enumerate() {
            let bits = sweep.covered(block) ^ flip;
            // Bit k set where pixel 64i + k differs from the pixel before it.
            let mut changes = bits ^ ((bits << 1) | previous);
            let valid = self.pixels - 64 * i;
            if valid < 64 {
                changes &= (1u64 << valid) - 1;
            }
            while changes != 0 {
                let at = 64 * i + changes.trailing_zeros() as usize;
                out.push((at - run_start) as u32);
                run_start = at;
                changes &= changes - 1;
            }
            previous = bits >> 63;
        }
        out.push((self.pixels - run_start) as u32);
        out
    }
}

/// Byte shuffles (`pshufb`; 0x80 gives zero) moving lanes up by 1, 2, 4 and 8, and one
/// spreading lane 15 over all lanes.
const UP: [[u8; 16]; 4] = [up(1), up(2), up(4), up(8)];
const LAST: [u8; 16] = [15; 16];

const fn up(by: usize) -> [u8; 16] {
    let mut table = [0x80u8; 16];
    let mut lane = by;
    while lane < 16 {
        table[lane] = (lane - by) as u8;
        lane += 1;
    }
    table
}

/// The sweep over `reach`: how many more pixels, counting the current one, the ranges
/// started so far still cover. That is `left[p] = max(reach[p], left[p - 1] - 1)` (stopping
/// at 0), computed for 16 pixels at once as a prefix maximum in four doubling steps (lane
/// `i` takes lane `i - k` less `k`), then against the carry from the 16 pixels before.
#[derive(Default)]
struct Sweep {
    /// `left` of the last pixel swept, in every lane.
    carry: u8x16,
}

impl Sweep {
    /// Bit k: pixel k of the 64 whose reaches are `block` is covered.
    #[inline]
    fn covered(&mut self, block: &[u8]) -> u64 {
        // Nothing starts in the block and nothing reaches into it: the common case of
        // sparse masks, checked in a few word loads.
        let (words, _) = block.as_chunks::<8>();
        let starts = words
            .iter()
            .fold(0u64, |acc, w| acc | u64::from_le_bytes(*w));
        if starts == 0 && self.carry == u8x16::splat(0) {
            return 0;
        }
        let mut word = 0u64;
        for (j, lanes) in block.chunks_exact(16).enumerate() {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(lanes);
            let mut left = u8x16::new(bytes);
            for (k, shuffle) in UP.iter().enumerate() {
                let moved = left.shuffle(u8x16::new(*shuffle));
                left = left.max(moved.saturating_sub(u8x16::splat(1 << k)));
            }
            let steps = u8x16::new([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
            left = left.max(self.carry.saturating_sub(steps));
            self.carry = left.shuffle(u8x16::new(LAST));
            let uncovered = left.simd_eq(u8x16::splat(0)).to_bitmask() as u64;
            word |= (!uncovered & 0xffff) << (16 * j);
        }
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rle::mask;

    #[test]
    fn ranges_and_runs_equal_the_pixel_definition() {
        // Random ranges (short, long, overlapping, past 255 pixels) over masks around word
        // boundaries; the runs must be the encoding of the pixels (and of their complement).
        let mut rng = crate::test_rng::Rng::new(0xb17_5e7);
        for _ in 0..3000 {
            let pixels = match rng.below(4) {
                0 => rng.below(3) as usize,
                1 => 64 * (1 + rng.below(12) as usize),
                _ => rng.below(1200) as usize,
            };
            let mut cover = Cover::new(pixels);
            let mut want = vec![0u8; pixels];
            for _ in 0..rng.below(8) {
                let a = rng.below(pixels as u64 + 2) as usize;
                let longest = if rng.below(2) == 0 { 40 } else { 700 };
                let b = a + rng.below(longest) as usize;
                cover.add(a, b);
                if b <= pixels {
                    want[a.min(b)..b].iter_mut().for_each(|p| *p = 1);
                }
            }
            if rng.below(3) == 0 {
                let mut other = Cover::new(pixels);
                let a = rng.below(pixels as u64 + 1) as usize;
                let b = (a + rng.below(600) as usize).min(pixels);
                other.add(a, b);
                want[a..b].iter_mut().for_each(|p| *p = 1);
                cover.union_with(&other);
            }
            let h = pixels.max(1) as u64;
            let w = u64::from(pixels > 0);
            assert_eq!(cover.runs(false), mask::encode(&want, h, w).counts);
            let inverse: Vec<u8> = want.iter().map(|&p| 1 - p).collect();
            assert_eq!(cover.runs(true), mask::encode(&inverse, h, w).counts);
        }
    }

    #[test]
    fn reaches_carry_across_blocks_and_words() {
        // One pixel's range reaching over many 16-pixel blocks, another's ending exactly at
        // a block edge, a range of exactly 255 and 256 pixels.
        for (start, len) in [
            (0, 255),
            (0, 256),
            (15, 1),
            (15, 2),
            (63, 65),
            (1, 254),
            (100, 511),
        ] {
            let pixels = 1000;
            let mut cover = Cover::new(pixels);
            cover.add(start, start + len);
            assert_eq!(
                cover.runs(false),
                vec![start as u32, len as u32, (pixels - start - len) as u32],
                "{start} {len}"
            );
        }
    }
}
