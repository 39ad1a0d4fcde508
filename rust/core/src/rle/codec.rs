//! The compact RLE counts string of COCO (`maskApi.c`: `rleToString` / `rleFrString`).
//!
//! Parity rules (pycocotools 2.0.11):
//! - values 0..=2 are stored as they are; from index 3 on, the stored value is
//!   `counts[i] - counts[i-2]` in signed 64-bit arithmetic;
//! - each value is written little-endian in 5-bit groups: `c = x & 0x1f; x >>= 5` (arithmetic
//!   shift); another group follows while `(c & 0x10) ? x != -1 : x != 0`, flagged by `c |= 0x20`;
//!   each group is emitted as the byte `c + 48`, so every byte lies in `'0'..='o'`;
//! - decoding reverses this and sign-extends from the last group when its bit 0x10 is set.
//!
//! Where cocors is stricter than pycocotools (which reads past the end of a truncated string and
//! accepts any byte): bytes outside the alphabet, a string that ends inside a value, and values
//! that do not decode to a run length in `0..2^32` are errors. pycocotools' C decoder also shifts
//! a 32-bit `int` by up to 35 bits, which is undefined for runs of 2^29 pixels or more; cocors
//! decodes those exactly.

use crate::error::{Error, Result};

/// The first byte of the alphabet: group value 0.
const BASE: u8 = b'0';
/// A valid value never needs more than 7 groups (35 bits hold every difference of two u32).
const MAX_GROUPS: u32 = 7;

/// Appends the counts string of `counts` to `out`.
///
/// pycocotools' loop emits a group and tests whether another follows, a branch that mispredicts
/// on every change between one- and two-group values. Here the group count comes from the
/// value's width (the fewest 5-bit groups holding it in two's complement: exactly when
/// pycocotools' test stops), and all groups are written as one 8-byte word of which the first
/// `groups` bytes are kept.
pub fn encode_counts_into(counts: &[u32], out: &mut Vec<u8>) {
    out.reserve(counts.len() * 2);
    // Values are written to a stack buffer, flushed when it may not hold another 8-byte word.
    let mut buf = [0u8; 256];
    let mut pos = 0usize;
    for (i, &c) in counts.iter().enumerate() {
        let mut x = i64::from(c);
        if i > 2 {
            x -= i64::from(counts[i - 2]);
        }
        if pos > buf.len() - 8 {
            out.extend_from_slice(&buf[..pos]);
            pos = 0;
        }
        if (-16..16).contains(&x) {
            if let Some(b) = buf.get_mut(pos) {
                *b = (x & 0x1f) as u8 + BASE;
            }
            pos += 1;
            continue;
        }
        // |x| < 2^32, so at most 33 significant bits plus a sign: 1..=7 groups.
        let significant = 64 - (x ^ (x >> 63)).leading_zeros();
        let groups = (significant + 5) / 5;
        let mut word = 0u64;
        for j in 0..7 {
            word |= (((x >> (5 * j)) & 0x1f) as u64) << (8 * j);
        }
        // Every group but the last has the 0x20 flag; every byte of a group is offset by BASE.
        let flags = 0x2020_2020_2020_2020u64 & ((1u64 << (8 * (groups - 1))) - 1);
        let bytes = (word | flags) + 0x3030_3030_3030_3030;
        if let Some(dst) = buf.get_mut(pos..pos + 8) {
            dst.copy_from_slice(&bytes.to_le_bytes());
        }
        pos += groups as usize;
    }
    out.extend_from_slice(&buf[..pos]);
}

/// The counts string of `counts`, as pycocotools' `rleToString` writes it.
pub fn encode_counts(counts: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(counts.len() * 2);
    encode_counts_into(counts, &mut out);
    out
}

/// Decodes a counts string into run lengths, as pycocotools' `rleFrString` does on valid input.
pub fn decode_counts(s: &[u8]) -> Result<Vec<u32>> {
    let mut counts: Vec<u32> = Vec::new();
    decode_counts_into(s, &mut counts)?;
    Ok(counts)
}

/// [`decode_counts`] into `counts` (replacing what it held), so that a caller decoding many
/// strings reuses one buffer.
///
/// The fast loop checks nothing per value: the alphabet is validated up front in one
/// vectorised pass, runs out of the u32 range only raise bits in a flag word, and any problem
/// sends the string through [`decode_counts_checked`], which finds the first offending offset.
pub fn decode_counts_into(s: &[u8], counts: &mut Vec<u32>) -> Result<()> {
    let valid = !s
        .iter()
        .fold(false, |acc, &b| acc | !(BASE..BASE + 64).contains(&b));
    if valid {
        if let Some(n) = decode_fast(s, counts) {
            counts.truncate(n);
            return Ok(());
        }
    }
    *counts = decode_counts_checked(s)?;
    Ok(())
}

/// Sign-extends the low 5 bits of `c` (a one-group value).
fn sext5(c: u64) -> i64 {
    i64::from(((c as u8) << 3) as i8 >> 3)
}

/// Decodes the value starting at byte `p` of `s` as run `n` of `out` (deltas applied);
/// returns the byte after it, or `None` where it is truncated, too long or out of range.
fn decode_one(s: &[u8], mut p: usize, out: &mut [u32], n: usize) -> Option<usize> {
    let (mut x, mut k) = (0i64, 0u32);
    loop {
        let c = i64::from(s.get(p)?.wrapping_sub(BASE));
        if k == MAX_GROUPS {
            return None;
        }
        x |= (c & 0x1f) << (5 * k);
        p += 1;
        k += 1;
        if c & 0x20 == 0 {
            if c & 0x10 != 0 {
                x |= -1i64 << (5 * k);
            }
            break;
        }
    }
    if n > 2 {
        x += i64::from(*out.get(n - 2)?);
    }
    *out.get_mut(n)? = u32::try_from(x).ok()?;
    Some(p)
}

/// The decoding loop for a string of valid bytes: the number of runs written to the front of
/// `out`, or `None` on any problem.
///
/// Strings are read eight bytes at a time. Eight one-group values (the common case once the
/// first three runs are read) are eight independent sign extensions. A word mixing one- and
/// two-group values is decoded byte by byte without a branch per byte: each byte yields the
/// value it would end (with the group before it where that one continues) and counts only if
/// it ends one; a branch on the kind of value would mispredict on every change, the cost the
/// first decoder of this codec paid. Longer values (the first run, long jumps) go one at a
/// time through [`decode_one`].
fn decode_fast(s: &[u8], out: &mut Vec<u32>) -> Option<usize> {
    let len = s.len();
    // A run per byte at most, and room for a whole word written past the last run.
    if out.len() < len + 8 {
        out.resize(len + 8, 0);
    }
    let (mut p, mut n) = (0usize, 0usize);
    while n < 3 && p < len {
        p = decode_one(s, p, out, n)?;
        n += 1;
    }
    if n < 3 {
        return Some(n);
    }
    // The two previous runs, in registers (reading them back from `out` would put a
    // store-to-load round trip on every value).
    let (mut two_back, mut one_back) = (i64::from(out[n - 2]), i64::from(out[n - 1]));
    // Bits above 32 of every run: nonzero iff one is negative or too large.
    let mut high = 0u64;
    while let Some(chunk) = s.get(p..p + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        // Bytes are >= BASE (validated), so the subtraction borrows across no byte.
        let c = u64::from_le_bytes(bytes) - 0x3030_3030_3030_3030;
        let cont = c & 0x2020_2020_2020_2020;
        let dst = out.get_mut(n..n + 8)?;
        if cont == 0 {
            for (k, slot) in dst.iter_mut().enumerate() {
                let x = sext5(c >> (8 * k)) + two_back;
                high |= (x as u64) >> 32;
                *slot = x as u32;
                two_back = one_back;
                one_back = x;
            }
            n += 8;
            p += 8;
            continue;
        }
        if cont & (cont << 8) != 0 {
            // Two continuing bytes in a row: a value of three groups or more in the word.
            p = decode_one(s, p, out, n)?;
            two_back = one_back;
            one_back = i64::from(out[n]);
            n += 1;
            continue;
        }
        // Up to and including the last byte that ends a value.
        let ends = !cont & 0x2020_2020_2020_2020;
        let last = (63 - ends.leading_zeros()) / 8;
        let continued = cont << 8; // bit 5 of byte k: byte k - 1 continues
        let mut written = 0usize;
        for k in 0..8u32 {
            let ends_here = ((ends >> (8 * k + 5)) & 1) & u64::from(k <= last);
            let high_group = sext5(c >> (8 * k));
            let value = if (continued >> (8 * k + 5)) & 1 != 0 {
                (high_group << 5) | ((c >> (8 * k - 8)) & 0x1f) as i64
            } else {
                high_group
            };
            let x = value + two_back;
            high |= ((x as u64) >> 32) & ends_here.wrapping_neg();
            if let Some(slot) = dst.get_mut(written) {
                *slot = x as u32;
            }
            let end = ends_here != 0;
            two_back = if end { one_back } else { two_back };
            one_back = if end { x } else { one_back };
            written += ends_here as usize;
        }
        n += written;
        p += last as usize + 1;
    }
    while p < len {
        p = decode_one(s, p, out, n)?;
        n += 1;
    }
    (high == 0).then_some(n)
}

/// The same decoding with a check at every step, for strings the fast loop found a problem in:
/// returns the error at the first offending byte or value.
fn decode_counts_checked(s: &[u8]) -> Result<Vec<u32>> {
    let mut counts: Vec<u32> = Vec::with_capacity(s.len());
    let mut p = 0usize;
    while p < s.len() {
        let start = p;
        let mut x: i64 = 0;
        let mut k: u32 = 0;
        loop {
            let Some(&byte) = s.get(p) else {
                return Err(Error::RleTruncated { offset: start });
            };
            if !(BASE..BASE + 64).contains(&byte) {
                return Err(Error::RleBadByte { offset: p, byte });
            }
            if k == MAX_GROUPS {
                return Err(Error::RleRunOutOfRange { offset: start });
            }
            let c = i64::from(byte - BASE);
            x |= (c & 0x1f) << (5 * k);
            p += 1;
            k += 1;
            if c & 0x20 == 0 {
                if c & 0x10 != 0 {
                    x |= -1i64 << (5 * k);
                }
                break;
            }
        }
        let m = counts.len();
        if m > 2 {
            x += i64::from(counts[m - 2]);
        }
        let run = u32::try_from(x).map_err(|_| Error::RleRunOutOfRange { offset: start })?;
        counts.push(run);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_examples() {
        // Examples pinned in shared/PARITY.md, checked against pycocotools.
        assert_eq!(encode_counts(&[0, 9]), b"09");
        assert_eq!(encode_counts(&[6, 3, 1, 3, 1, 3, 3]), b"6310002");
        assert_eq!(encode_counts(&[1_000_000, 1]), b"Pb`n01");
        assert_eq!(decode_counts(b"Pb`n01"), Ok(vec![1_000_000, 1]));
        assert_eq!(decode_counts(b""), Ok(vec![]));
    }

    #[test]
    fn round_trips_extremes() {
        let cases: Vec<Vec<u32>> = vec![
            vec![0],
            vec![u32::MAX, 0, u32::MAX, 0, u32::MAX],
            vec![0, u32::MAX, 0, 1, u32::MAX, 2, 0],
            (0..1000u32)
                .map(|i| i.wrapping_mul(2_654_435_761) >> (i % 32))
                .collect(),
        ];
        for counts in cases {
            let s = encode_counts(&counts);
            assert!(s.iter().all(|b| (b'0'..=b'o').contains(b)));
            assert_eq!(decode_counts(&s), Ok(counts));
        }
    }

    #[test]
    fn fast_and_checked_paths_agree() {
        let mut seed = 99u64;
        for _ in 0..2000 {
            let n = (seed % 12) as usize;
            let counts: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((seed >> 33) as u32) >> (seed % 31)
                })
                .collect();
            let s = encode_counts(&counts);
            assert_eq!(decode_counts(&s), decode_counts_checked(&s));
            for cut in 0..s.len() {
                assert_eq!(decode_counts(&s[..cut]), decode_counts_checked(&s[..cut]));
                let mut bad = s.clone();
                bad[cut] ^= (seed as u8) | 1;
                assert_eq!(decode_counts(&bad), decode_counts_checked(&bad));
            }
        }
    }

    #[test]
    fn rejects_bad_strings() {
        assert_eq!(
            decode_counts(b"0p"),
            Err(Error::RleBadByte {
                offset: 1,
                byte: b'p'
            })
        );
        assert_eq!(
            decode_counts(b"0/"),
            Err(Error::RleBadByte {
                offset: 1,
                byte: b'/'
            })
        );
        assert_eq!(
            decode_counts(b"0\0"),
            Err(Error::RleBadByte { offset: 1, byte: 0 })
        );
        // 'P' = 0x20 + 0x00 + 48: "more groups follow", then the string ends.
        assert_eq!(decode_counts(b"0P"), Err(Error::RleTruncated { offset: 1 }));
        // A lone negative first value.
        assert_eq!(
            decode_counts(b"@"),
            Err(Error::RleRunOutOfRange { offset: 0 })
        );
        // Eight groups.
        assert_eq!(
            decode_counts(b"PPPPPPP0"),
            Err(Error::RleRunOutOfRange { offset: 0 })
        );
        // 2^32 needs 7 groups and is out of range.
        let mut s = Vec::new();
        let mut x: i64 = 1 << 32;
        loop {
            let mut c = (x & 0x1f) as u8;
            x >>= 5;
            let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
            if more {
                c |= 0x20;
            }
            s.push(c + 48);
            if !more {
                break;
            }
        }
        assert_eq!(
            decode_counts(&s),
            Err(Error::RleRunOutOfRange { offset: 0 })
        );
    }

    #[test]
    fn fast_decoder_equals_the_checked_one() {
        // Runs whose differences mix one-, two- and many-group values in every position of
        // the eight-byte words, round-tripped; then random strings of the alphabet (runs out of
        // range, truncated values) must give exactly the checked decoder's result or error.
        let mut rng = crate::test_rng::Rng::new(0x5eed_c0de);
        for _ in 0..3000 {
            let n = rng.below(60) as usize;
            let mut counts: Vec<u32> = Vec::with_capacity(n);
            for i in 0..n {
                let prev = if i >= 2 { counts[i - 2] } else { 100 };
                let step = match rng.below(8) {
                    0 => rng.below(1 << 20) as i64 - (1 << 19),
                    1 => rng.below(1024) as i64 - 512,
                    2 | 3 => rng.below(64) as i64 - 32,
                    4 => rng.below(u64::from(u32::MAX)) as i64 - i64::from(prev),
                    _ => rng.below(32) as i64 - 16,
                };
                counts.push((i64::from(prev) + step).clamp(0, i64::from(u32::MAX)) as u32);
            }
            let s = encode_counts(&counts);
            assert_eq!(decode_counts(&s), Ok(counts.clone()), "{s:?}");
            let mut buf = vec![7; 3];
            decode_counts_into(&s, &mut buf).unwrap();
            assert_eq!(buf, counts);
        }
        for _ in 0..20000 {
            let n = rng.below(40) as usize;
            let s: Vec<u8> = (0..n)
                .map(|_| match rng.below(4) {
                    0 => BASE + 32 + rng.below(32) as u8, // continues
                    _ => BASE + rng.below(32) as u8,
                })
                .collect();
            assert_eq!(decode_counts(&s), decode_counts_checked(&s), "{s:?}");
        }
    }
}
