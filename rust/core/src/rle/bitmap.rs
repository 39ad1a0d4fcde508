//! A mask as one bit a pixel, for merging many RLEs at once: each input's runs of one kind
//! are set as bit ranges, and the canonical runs are read back from the changes between
//! neighbouring bits. For hundreds of inputs this is linear in their runs plus `pixels / 64`
//! words, where pycocotools' pairwise walk is quadratic (see `batch::merge_inputs`).

/// Pixels `0..pixels` of a column-major mask, bit `p % 64` of word `p / 64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    pixels: usize,
}

impl Bitmap {
    /// All pixels clear.
    pub fn new(pixels: usize) -> Self {
        Bitmap {
            words: vec![0; pixels.div_ceil(64)],
            pixels,
        }
    }

    /// Sets pixels `start..end` (both within the mask; an empty range sets nothing).
    ///
    /// One bounds check for the words it spans; a run within one word is one masked OR.
    #[inline]
    pub fn set_range(&mut self, start: usize, end: usize) {
        if start >= end || end > self.pixels {
            return;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let Some(span) = self.words.get_mut(first..=last) else {
            return;
        };
        let low = !0u64 << (start % 64);
        let high = !0u64 >> (63 - (end - 1) % 64);
        match span {
            [only] => *only |= low & high,
            [head, middle @ .., tail] => {
                *head |= low;
                *tail |= high;
                // An opaque all-ones word: a constant would make this loop a memset call,
                // which costs more than the few words a run spans here.
                let ones = std::hint::black_box(!0u64);
                for w in middle {
                    *w = ones;
                }
            }
            [] => {}
        }
    }

    /// Sets every pixel set in `other` (of the same size).
    pub fn union_with(&mut self, other: &Bitmap) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }

    /// The canonical runs (starting with clear pixels, no empty run but the first) of the set
    /// pixels, or with `invert` of the clear ones.
    pub fn runs(&self, invert: bool) -> Vec<u32> {
        let mut out = Vec::new();
        let flip = if invert { !0u64 } else { 0 };
        // The value of the pixel before the word, and where the current run started.
        let (mut previous, mut run_start) = (0u64, 0usize);
        for (i, &word) in self.words.iter().enumerate() {
            let bits = word ^ flip;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rle::mask;

    #[test]
    fn ranges_and_runs_equal_the_pixel_definition() {
        // Random ranges over masks around word boundaries; the runs must be the encoding of
        // the pixels (and of their complement).
        let mut rng = crate::test_rng::Rng::new(0xb17_5e7);
        for _ in 0..2000 {
            let pixels = match rng.below(4) {
                0 => rng.below(3) as usize,
                1 => 64 * (1 + rng.below(4) as usize),
                _ => rng.below(400) as usize,
            };
            let mut bitmap = Bitmap::new(pixels);
            let mut want = vec![0u8; pixels];
            for _ in 0..rng.below(6) {
                let a = rng.below(pixels as u64 + 2) as usize;
                let b = a + rng.below(150) as usize;
                bitmap.set_range(a, b);
                if b <= pixels {
                    want[a.min(b)..b].iter_mut().for_each(|p| *p = 1);
                }
            }
            if rng.below(3) == 0 {
                let mut other = Bitmap::new(pixels);
                let a = rng.below(pixels as u64 + 1) as usize;
                let b = (a + rng.below(100) as usize).min(pixels);
                other.set_range(a, b);
                want[a..b].iter_mut().for_each(|p| *p = 1);
                bitmap.union_with(&other);
            }
            let h = pixels.max(1) as u64;
            let w = u64::from(pixels > 0);
            assert_eq!(bitmap.runs(false), mask::encode(&want, h, w).counts);
            let inverse: Vec<u8> = want.iter().map(|&p| 1 - p).collect();
            assert_eq!(bitmap.runs(true), mask::encode(&inverse, h, w).counts);
        }
    }
}
