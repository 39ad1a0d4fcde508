//! COCO run-length encoding: the RLE type, its string codec, and the Mask API operations of
//! pycocotools (`maskApi.c`), each bit-exact with pycocotools 2.0.11.
//!
//! Layout: `codec` (the compact counts string), `mask` (pixels <-> runs), `poly` (polygon and box
//! rasterisation), `ops` (area, bounding box, merge, IoU on run lengths), `batch` (the same over
//! lists, in parallel), `cover` (the pixels many ranges cover, for merging many RLEs).

pub mod batch;
pub mod codec;
pub mod cover;
pub mod mask;
pub mod ops;
pub mod packed;
pub mod poly;

pub use packed::Packed;

use crate::error::{Error, Result};

/// A binary mask of `h` rows and `w` columns as alternating runs of 0s and 1s in column-major
/// order, starting with 0s (the first run may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rle {
    pub h: u64,
    pub w: u64,
    pub counts: Vec<u32>,
}

/// Sizes whose pixel count fits the format's 32-bit run lengths (pycocotools truncates `h`, `w`
/// and `h*w` to 32 bits in several places; cocors refuses such sizes instead).
pub fn check_size(h: u64, w: u64) -> Result<()> {
    let limit = u64::from(u32::MAX);
    match h.checked_mul(w) {
        Some(px) if h <= limit && w <= limit && px <= limit => Ok(()),
        _ => Err(Error::SizeTooLarge { h, w }),
    }
}

impl Rle {
    /// An RLE from its parts, checking only that the size is representable.
    pub fn new(h: u64, w: u64, counts: Vec<u32>) -> Result<Rle> {
        check_size(h, w)?;
        Ok(Rle { h, w, counts })
    }

    /// An RLE from a compact counts string (see [`codec`]).
    pub fn from_counts_string(h: u64, w: u64, s: &[u8]) -> Result<Rle> {
        check_size(h, w)?;
        Ok(Rle {
            h,
            w,
            counts: codec::decode_counts(s)?,
        })
    }

    /// The compact counts string, as pycocotools writes it.
    pub fn counts_string(&self) -> Vec<u8> {
        codec::encode_counts(&self.counts)
    }

    /// Number of pixels the size covers.
    pub fn pixels(&self) -> u64 {
        self.h * self.w
    }

    /// Sum of all run lengths (in 64 bits, so it cannot wrap).
    pub fn counts_sum(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// Checks that the runs cover the mask exactly, the condition for decoding it to pixels.
    pub fn check_covers(&self, h: u64, w: u64) -> Result<()> {
        let sum = self.counts_sum();
        if sum == h * w {
            Ok(())
        } else {
            Err(Error::RleCountsSum { sum, h, w })
        }
    }

    /// Whether the counts are the unique encoding of their pixels: they cover the mask and no
    /// run after the first is empty. Every RLE pycocotools produces from pixels or polygons is
    /// canonical; operations may take faster paths on canonical input.
    pub fn is_canonical(&self) -> bool {
        self.counts
            .get(1..)
            .is_none_or(|rest| rest.iter().all(|&c| c > 0))
            && self.counts_sum() == self.pixels()
    }
}
