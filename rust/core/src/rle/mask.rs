//! Pixels to runs and back (`rleEncode` / `rleDecode`).
//!
//! Parity: a new run starts at *any* change of byte value, as in pycocotools, so the mask
//! `[0,1,2,2,1]` encodes as runs `[1,1,2,1]` and decodes as `[0,1,0,0,1]`. An empty mask
//! (h*w == 0) encodes as the single run `[0]`.

use super::Rle;
use crate::error::Result;

/// Bytes compared per block when looking for the end of a run; the block comparison has no
/// early exit so that it compiles to SIMD.
const BLOCK: usize = 64;

/// Index of the first byte of `hay` that differs from `v`, or `hay.len()`.
fn run_end(hay: &[u8], v: u8) -> usize {
    let mut blocks = hay.chunks_exact(BLOCK);
    let mut skipped = 0;
    for block in &mut blocks {
        if block.iter().fold(0u8, |acc, &b| acc | (b ^ v)) != 0 {
            return skipped + block.iter().position(|&b| b != v).unwrap_or(BLOCK);
        }
        skipped += BLOCK;
    }
    let tail = blocks.remainder();
    skipped + tail.iter().position(|&b| b != v).unwrap_or(tail.len())
}

/// Encodes one column-major mask of `h*w` bytes (the caller checked the size).
pub fn encode(pixels: &[u8], h: u64, w: u64) -> Rle {
    let mut counts = Vec::new();
    let mut value = 0u8;
    let mut start = 0usize;
    loop {
        let end = start + run_end(&pixels[start..], value);
        counts.push((end - start) as u32);
        match pixels.get(end) {
            Some(&next) => {
                value = next;
                start = end;
            }
            None => break,
        }
    }
    Rle { h, w, counts }
}

/// Writes the mask of `rle` into `out` (`h*w` bytes, column-major). With `zeroed`, `out` is
/// known to hold zeros and only the foreground runs are written: untouched pages of a freshly
/// `calloc`ed array then never get faulted in.
pub fn decode_into(rle: &Rle, out: &mut [u8], zeroed: bool) -> Result<()> {
    let n = out.len() as u64;
    let sum = rle.counts_sum();
    if sum != n {
        return Err(crate::Error::RleCountsSum {
            sum,
            h: rle.h,
            w: rle.w,
        });
    }
    let mut pos = 0usize;
    for (i, &c) in rle.counts.iter().enumerate() {
        let end = pos + c as usize;
        let foreground = i % 2 == 1;
        if foreground || !zeroed {
            out[pos..end].fill(u8::from(foreground));
        }
        pos = end;
    }
    Ok(())
}

/// The mask of `rle` as `h*w` column-major bytes.
pub fn decode(rle: &Rle) -> Result<Vec<u8>> {
    super::check_size(rle.h, rle.w)?;
    let mut out = vec![0u8; rle.pixels() as usize];
    decode_into(rle, &mut out, true)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_value_change_starts_a_run() {
        let rle = encode(&[0, 1, 2, 2, 1], 5, 1);
        assert_eq!(rle.counts, vec![1, 1, 2, 1]);
        assert_eq!(decode(&rle), Ok(vec![0, 1, 0, 0, 1]));
    }

    #[test]
    fn empty_and_leading_foreground() {
        assert_eq!(encode(&[], 0, 7).counts, vec![0]);
        assert_eq!(encode(&[1, 1, 0], 3, 1).counts, vec![0, 2, 1]);
    }

    #[test]
    fn long_runs_cross_blocks() {
        let mut px = vec![0u8; 1000];
        px[130..777].fill(1);
        px[999] = 1;
        let rle = encode(&px, 10, 100);
        assert_eq!(rle.counts, vec![130, 647, 222, 1]);
        assert_eq!(decode(&rle), Ok(px));
    }

    #[test]
    fn decode_rejects_counts_that_do_not_cover() {
        let short = Rle {
            h: 2,
            w: 2,
            counts: vec![1, 2],
        };
        assert!(decode(&short).is_err());
        let long = Rle {
            h: 2,
            w: 2,
            counts: vec![1, 4],
        };
        assert!(decode(&long).is_err());
    }
}
