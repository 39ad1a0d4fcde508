//! Many RLEs kept as their compact counts strings, back to back in one buffer. A string takes
//! a few times less memory than its decoded runs (about 1.5 bytes per run instead of 4, and
//! no allocation per mask), so a large set of detections stays small until each mask is
//! decoded where it is used.

use super::{check_size, Rle};
use crate::error::Result;

#[derive(Debug, Default, Clone)]
pub struct Packed {
    /// (height, width) of each mask (each below 2^32, see [`check_size`]).
    sizes: Vec<(u32, u32)>,
    /// End of each mask's string in `bytes`.
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Packed {
    /// Appends the mask of size `h` x `w` whose counts string is `counts`.
    pub fn push(&mut self, h: u64, w: u64, counts: &[u8]) -> Result<()> {
        check_size(h, w)?;
        self.sizes.push((h as u32, w as u32));
        self.bytes.extend_from_slice(counts);
        self.ends.push(self.bytes.len());
        Ok(())
    }

    /// Appends the mask of size `h` x `w` whose runs are `counts`, encoded straight into the
    /// buffer.
    pub fn push_runs(&mut self, h: u64, w: u64, counts: &[u32]) -> Result<()> {
        check_size(h, w)?;
        self.sizes.push((h as u32, w as u32));
        super::codec::encode_counts_into(counts, &mut self.bytes);
        self.ends.push(self.bytes.len());
        Ok(())
    }

    /// Each mask's size and counts string, in order.
    pub fn strings(&self) -> impl Iterator<Item = (u64, u64, &[u8])> {
        let mut start = 0;
        self.sizes
            .iter()
            .zip(&self.ends)
            .map(move |(&(h, w), &end)| {
                let s = self.bytes.get(start..end).unwrap_or_default();
                start = end;
                (u64::from(h), u64::from(w), s)
            })
    }

    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Mask `i`, decoded.
    pub fn get(&self, i: usize) -> Result<Rle> {
        let (h, w) = self.sizes[i];
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Rle::from_counts_string(u64::from(h), u64::from(w), &self.bytes[start..self.ends[i]])
    }

    pub fn shrink_to_fit(&mut self) {
        self.sizes.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.bytes.shrink_to_fit();
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.sizes.capacity() * 8 + self.ends.capacity() * 8 + self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_come_back_as_pushed() {
        let masks = [
            Rle::new(4, 4, vec![6, 2, 1, 1, 3, 3]),
            Rle::new(0, 0, vec![]),
            Rle::new(3, 1000, vec![0, 2999, 1]),
        ];
        let mut p = Packed::default();
        for m in masks.iter().flatten() {
            assert!(p.push(m.h, m.w, &m.counts_string()).is_ok());
        }
        assert_eq!(p.len(), 3);
        for (i, m) in masks.iter().flatten().enumerate() {
            assert_eq!(p.get(i).ok().as_ref(), Some(m));
        }
        assert!(p.push(1 << 33, 1, b"").is_err());
    }

    #[test]
    fn runs_pushed_come_back_as_strings() {
        let masks = [
            Rle::new(4, 4, vec![6, 2, 1, 1, 3, 3]),
            Rle::new(0, 0, vec![]),
            Rle::new(3, 1000, vec![0, 2999, 1]),
        ];
        let mut p = Packed::default();
        for m in masks.iter().flatten() {
            assert!(p.push_runs(m.h, m.w, &m.counts).is_ok());
        }
        let back: Vec<(u64, u64, Vec<u8>)> =
            p.strings().map(|(h, w, s)| (h, w, s.to_vec())).collect();
        let want: Vec<(u64, u64, Vec<u8>)> = masks
            .iter()
            .flatten()
            .map(|m| (m.h, m.w, m.counts_string()))
            .collect();
        assert_eq!(back, want);
        assert!(p.push_runs(1 << 33, 1, &[]).is_err());
    }
}
