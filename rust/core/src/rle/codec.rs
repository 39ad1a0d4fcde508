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
///
/// The hot loop checks nothing per value: the alphabet is validated up front in one vectorised
/// pass, runs out of the u32 range only raise a flag, and any problem sends the string through
/// [`decode_counts_checked`], which finds the first offending offset.
pub fn decode_counts(s: &[u8]) -> Result<Vec<u32>> {
    let mut counts: Vec<u32> = Vec::with_capacity(s.len());
    decode_counts_into(s, &mut counts)?;
    Ok(counts)
}

/// [`decode_counts`] into `counts` (cleared first), so that a caller decoding many strings
/// reuses one buffer.
pub fn decode_counts_into(s: &[u8], counts: &mut Vec<u32>) -> Result<()> {
    counts.clear();
    counts.reserve(s.len());
    decode_counts_with(s, |runs| counts.extend_from_slice(runs))
}

/// Decodes a counts string, handing the runs to `sink` in order (in slices of up to 8), without
/// collecting them: area and box are computed this way straight from the string. On an error
/// `sink` may have seen some runs already.
pub fn decode_counts_with(s: &[u8], mut sink: impl FnMut(&[u32])) -> Result<()> {
    if s.iter()
        .fold(false, |acc, &b| acc | !(BASE..BASE + 64).contains(&b))
    {
        return decode_counts_checked(s).map(|_| ());
    }
    let mut decoded = 0usize;
    // The two previous runs stay in registers: reading them back from the vector would put a
    // store-to-load round trip on every value.
    let (mut two_back, mut one_back) = (0i64, 0i64);
    let mut bad = false;
    let mut p = 0usize;
    while p < s.len() {
        // Fast path: eight bytes that are all one-group values (no 0x20 flag), the common case
        // once the first three runs are read. Each byte is a 5-bit two's complement difference.
        if decoded > 2 {
            if let Some(chunk) = s.get(p..p + 8) {
                let word = u64::from_le_bytes([
                    chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
                ]);
                // Bytes are >= BASE (validated), so the subtraction borrows across no byte.
                if (word - 0x3030_3030_3030_3030) & 0x2020_2020_2020_2020 == 0 {
                    let mut runs = [0u32; 8];
                    for (run, &b) in runs.iter_mut().zip(chunk) {
                        // Sign-extend the low 5 bits of (b - BASE).
                        let d = i64::from((((b - BASE) << 3) as i8) >> 3);
                        let x = d + two_back;
                        bad |= (x as u64) > u64::from(u32::MAX);
                        *run = x as u32;
                        two_back = one_back;
                        one_back = x;
                    }
                    sink(&runs);
                    decoded += 8;
                    p += 8;
                    continue;
                }
            }
        }
        let c = i64::from(s[p] - BASE);
        p += 1;
        let mut x = if c & 0x10 != 0 { c | !0x1f } else { c };
        if c & 0x20 != 0 {
            // Several groups (rare after the first three values): little-endian 5-bit groups,
            // sign-extended from the last one.
            x = c & 0x1f;
            let mut k = 1u32;
            loop {
                let Some(&byte) = s.get(p) else {
                    return decode_counts_checked(s).map(|_| ());
                };
                let c = i64::from(byte - BASE);
                p += 1;
                if k < MAX_GROUPS {
                    x |= (c & 0x1f) << (5 * k);
                } else {
                    bad = true;
                }
                k += 1;
                if c & 0x20 == 0 {
                    if c & 0x10 != 0 && k <= MAX_GROUPS {
                        x |= -1i64 << (5 * k);
                    }
                    break;
                }
            }
        }
        if decoded > 2 {
            x += two_back;
        }
        bad |= (x as u64) > u64::from(u32::MAX);
        sink(&[x as u32]);
        decoded += 1;
        two_back = one_back;
        one_back = x;
    }
    if bad {
        return decode_counts_checked(s).map(|_| ());
    }
    Ok(())
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
}
