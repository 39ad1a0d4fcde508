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
use wide::bytemuck::cast;
use wide::{i16x8, i32x4, i32x8, i8x16, u8x16};

/// The first byte of the alphabet: group value 0.
const BASE: u8 = b'0';
/// A valid value never needs more than 7 groups (35 bits hold every difference of two u32).
const MAX_GROUPS: u32 = 7;

/// Appends the counts string of `counts` to `out`.
///
/// pycocotools' loop emits a group and tests whether another follows, a branch that mispredicts
/// on every change between one- and two-group values. Here values of one or two groups (nearly
/// all: differences of runs two apart) are written as two bytes of which one or both are
/// kept, chosen without a branch. Longer ones take their group count from the value's width
/// (the fewest 5-bit groups holding it in two's complement: exactly when pycocotools' test
/// stops), and all groups are written as one 8-byte word of which the first `groups` bytes
/// are kept.
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
        if (-512..512).contains(&x) {
            // One or two groups (nearly all values): which one is a select, not a branch, as
            // the two alternate unpredictably.
            let two = !(-16..16).contains(&x);
            let low = (x & 0x1f) as u16;
            let word = if two {
                low | 0x20 | (((x >> 5) & 0x1f) as u16) << 8
            } else {
                low
            };
            if let Some(dst) = buf.get_mut(pos..pos + 2) {
                dst.copy_from_slice(&(word + 0x3030).to_le_bytes());
            }
            pos += 1 + usize::from(two);
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
    let mut scratch: Vec<u32> = Vec::new();
    let n = decode_counts_with(s, &mut scratch)?.len();
    scratch.truncate(n);
    Ok(scratch)
}

/// [`decode_counts`] into `scratch`, returning the runs at its front, so that a caller
/// decoding many strings reuses one buffer (which is never shrunk: clearing it again for
/// the next string would cost a fill of its length).
///
/// The fast loop checks nothing per value: the alphabet is validated up front in one
/// vectorised pass, runs out of range only raise bits in a flag word, and any problem sends
/// the string through [`decode_counts_checked`], which finds the first offending offset.
pub fn decode_counts_with<'a>(s: &[u8], scratch: &'a mut Vec<u32>) -> Result<&'a [u32]> {
    if valid_alphabet(s) {
        if let Some(n) = decode_fast(s, scratch, SIMD) {
            return Ok(&scratch[..n]);
        }
    }
    *scratch = decode_counts_checked(s)?;
    Ok(scratch)
}

/// The area of the RLE a counts string encodes (the sum of its foreground runs, wrapping at
/// 2^32 as pycocotools' `rleArea` does), with [`decode_counts_with`]'s errors, `scratch`
/// used as its working space: the runs are summed as they are made, never stored.
pub fn decode_area(s: &[u8], scratch: &mut Vec<u32>) -> Result<u32> {
    if valid_alphabet(s) {
        if let Some((_, area)) = decode_fast_area::<false>(s, scratch, SIMD) {
            return Ok(area);
        }
    }
    Ok(super::ops::area_of_counts(&decode_counts_checked(s)?))
}

/// Whether every byte of `s` is in the alphabet, in one pass the compiler vectorises.
fn valid_alphabet(s: &[u8]) -> bool {
    !s.iter()
        .fold(false, |acc, &b| acc | !(BASE..BASE + 64).contains(&b))
}

/// Sign-extends the low 5 bits of `c` (a one-group value).
fn sext5(c: u64) -> i64 {
    i64::from(((c as u8) << 3) as i8 >> 3)
}

/// Decodes the value starting at byte `p` of `s` (as stored: no difference applied): the value
/// and the byte after it, or `None` where it is truncated or too long.
fn value_at(s: &[u8], mut p: usize) -> Option<(i64, usize)> {
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
            return Some((x, p));
        }
    }
}

/// The fast decoding of a string of valid bytes: the number of runs written to the front of
/// `out`, or `None` on any problem (and for runs of 2^30 pixels or more, which only masks of
/// over a billion pixels have: the checked decoder takes those).
///
/// Two passes. The first reads the values as stored ([`decode_values`]); each is found
/// without looking at the one before, so nothing chains one eight-byte window to the next
/// but the position. The second turns them into runs (from index 3 on, a value is the
/// difference to the run two before: [`runs_from_values`]), four at a time in fixed steps.
/// Doing both at once, as the decoder did before, chained every window to the last runs of
/// the one before at a variable lane, a store and reload per window.
fn decode_fast(s: &[u8], out: &mut Vec<u32>, simd: bool) -> Option<usize> {
    decode_fast_area::<true>(s, out, simd).map(|(n, _)| n)
}

/// [`decode_fast`], with the area of the runs too (and the runs themselves only with `STORE`:
/// otherwise `out` ends up holding the values).
fn decode_fast_area<const STORE: bool>(
    s: &[u8],
    out: &mut Vec<u32>,
    simd: bool,
) -> Option<(usize, u32)> {
    // A value per byte at most, and room for a whole window written past the last one.
    if out.len() < s.len() + 8 {
        out.resize(s.len() + 8, 0);
    }
    let n = decode_values(s, out, simd)?;
    let area = runs_from_values::<STORE>(out.get_mut(..n)?, simd)?;
    Some((n, area))
}

/// The values of a string of valid bytes as stored, each as the bits of an `i32`, written to
/// the front of `out` (which has room for a value per byte plus 8): their number, or `None`
/// where the string is truncated or a value does not fit an `i32`.
///
/// Strings are read eight bytes at a time. With `simd`, runs of windows holding one- and
/// two-group values only go through [`simd_values`]; the scalar paths below take the rest
/// (and all windows without `simd`). There, eight one-group values are eight independent
/// sign extensions, and a word mixing one- and two-group values is decoded byte by byte
/// without a branch per byte: each byte yields the value it would end (with the group before
/// it where that one continues) and counts only if it ends one; a branch on the kind of value
/// would mispredict on every change, the cost the first decoder of this codec paid. Longer
/// values (the first run, long jumps) go one at a time through [`value_at`].
fn decode_values(s: &[u8], out: &mut [u32], simd: bool) -> Option<usize> {
    let (mut p, mut n) = (0usize, 0usize);
    loop {
        // (A window is read with the byte before it, so the first word is scalar.)
        if simd && p > 0 {
            (p, n) = simd_values(s, out, p, n)?;
        }
        let Some(chunk) = s.get(p..p + 8) else {
            break;
        };
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        // Bytes are >= BASE (validated), so the subtraction borrows across no byte.
        let c = u64::from_le_bytes(bytes) - 0x3030_3030_3030_3030;
        let cont = c & 0x2020_2020_2020_2020;
        let dst = out.get_mut(n..n + 8)?;
        if cont == 0 {
            for (k, slot) in dst.iter_mut().enumerate() {
                *slot = sext5(c >> (8 * k)) as u32;
            }
            n += 8;
            p += 8;
            continue;
        }
        if cont & (cont << 8) != 0 {
            // Two continuing bytes in a row: a value of three groups or more in the word.
            let (x, next) = value_at(s, p)?;
            *dst.first_mut()? = i32::try_from(x).ok()? as u32;
            n += 1;
            p = next;
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
            if let Some(slot) = dst.get_mut(written) {
                *slot = value as u32;
            }
            written += ends_here as usize;
        }
        n += written;
        p += last as usize + 1;
    }
    while p < s.len() {
        let (x, next) = value_at(s, p)?;
        *out.get_mut(n)? = i32::try_from(x).ok()? as u32;
        n += 1;
        p = next;
    }
    Some(n)
}

/// Turns `values` (as [`decode_values`] leaves them) into runs, in place with `STORE`: runs
/// 0 to 2 are the values, run `i` from 3 on is value `i` plus run `i - 2` (pycocotools'
/// `x += cnts[m-2]`). Returns the sum of the odd (foreground) runs, in u32 arithmetic that
/// wraps as pycocotools' area does, if every run lies in `0..2^30`.
///
/// The check is one OR of all runs, tested once: while the runs before are in range, a run
/// outside it has bit 30 or 31 set in 32-bit arithmetic (a value is an `i32`, so the first
/// such run lies in `-2^31..2^31 + 2^30`), and what follows it does not matter.
fn runs_from_values<const STORE: bool>(values: &mut [u32], simd: bool) -> Option<u32> {
    let mut all = values.iter().take(3).fold(0u32, |a, &x| a | x);
    let mut area = values.get(1).copied().unwrap_or(0);
    let (Some(&two_back), Some(&one_back)) = (values.get(1), values.get(2)) else {
        return (all >> 30 == 0).then_some(area);
    };
    let (mut two_back, mut one_back) = (two_back as i32, one_back as i32);
    let mut i = 3;
    if simd {
        // Lanes i..i+4: each adds the value two lanes before it, then the carries (the runs
        // two before lanes 0 and 1); the next carries are the last two lanes. Blocks start
        // at odd runs (3, 7, ...): lanes 0 and 2 are foreground.
        let mut carries = i32x4::new([two_back, one_back, two_back, one_back]);
        let mut seen = i32x4::splat(0);
        let mut areas = i32x4::splat(0);
        let odd = i32x4::new([-1, 0, -1, 0]);
        while let Some(block) = values.get_mut(i..i + 4) {
            let Ok(words) = <[u32; 4]>::try_from(&*block) else {
                break;
            };
            let x: i32x4 = cast(words);
            let runs = x + up_two_lanes(x) + carries;
            seen |= runs;
            areas += runs & odd;
            if STORE {
                block.copy_from_slice(&cast::<i32x4, [u32; 4]>(runs));
            }
            carries = last_two_lanes(runs);
            i += 4;
        }
        let [a, b, ..] = carries.to_array();
        (two_back, one_back) = (a, b);
        all |= seen.to_array().iter().fold(0, |a, &x| a | x as u32);
        area = areas
            .to_array()
            .iter()
            .fold(area, |a, &x| a.wrapping_add(x as u32));
    }
    for (k, v) in values.iter_mut().enumerate().skip(i) {
        let run = (*v as i32).wrapping_add(two_back);
        if STORE {
            *v = run as u32;
        }
        all |= run as u32;
        area = area.wrapping_add((run as u32) & 0u32.wrapping_sub((k % 2) as u32));
        (two_back, one_back) = (one_back, run);
    }
    (all >> 30 == 0).then_some(area)
}

/// Lanes `[0, 0, a, b]` of `[a, b, c, d]`.
#[inline(always)]
fn up_two_lanes(x: i32x4) -> i32x4 {
    const UP: [u8; 16] = [
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1, 2, 3, 4, 5, 6, 7,
    ];
    cast(cast::<i32x4, u8x16>(x).shuffle(u8x16::new(UP)))
}

/// Lanes `[c, d, c, d]` of `[a, b, c, d]`.
#[inline(always)]
fn last_two_lanes(x: i32x4) -> i32x4 {
    const LAST: [u8; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
    cast(cast::<i32x4, u8x16>(x).shuffle(u8x16::new(LAST)))
}

/// Whether [`decode_fast`] uses SIMD (windows through [`window_values`], runs four at a time
/// in [`runs_from_values`]): where the target has a byte shuffle (`pshufb`, SSSE3: the build asks for x86-64-v2 in `.cargo/config.toml`;
/// NEON's `tbl`). Elsewhere `wide` would emulate it lane by lane, slower than the scalar loop.
const SIMD: bool = cfg!(any(
    target_feature = "ssse3",
    all(target_arch = "aarch64", target_feature = "neon")
));

/// Decodes eight-byte windows from byte `p` (a value's start, `p >= 1`) with
/// [`window_values`] while they hold no value of three groups or more: returns the byte
/// where it stopped (a value's start) and the number of values in `out` then. A loop of its
/// own, so that its state stays in registers.
fn simd_values(s: &[u8], out: &mut [u32], mut p: usize, mut n: usize) -> Option<(usize, usize)> {
    // Windows always move on by eight bytes: `pending` says that the last byte before the
    // window starts a value of two groups, which ends in the window. Each window is read with
    // that byte in front.
    let mut pending = false;
    while let Some(chunk) = s.get(p.wrapping_sub(1)..p + 15) {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(chunk);
        let groups = u8x16::new(bytes) - u8x16::splat(BASE);
        // Bit 5 of each byte (continues) to bit 7, gathered: bit k for byte p-1+k.
        let continues = cast::<i16x8, u8x16>(cast::<u8x16, i16x8>(groups) << 2).to_bitmask();
        // Bit 0: byte p-1 starts a value that ends at byte p; bit k: byte p+k-1 continues.
        let mask = (continues as usize & 0x1fe) | usize::from(pending);
        if mask & (mask >> 1) != 0 {
            break;
        }
        let dst = out.get_mut(n..n + 8)?;
        n += window_values(groups, mask, dst);
        p += 8;
        pending = mask >> 8 != 0;
    }
    // A value started by the last byte read is decoded again from its start.
    Some((p - usize::from(pending), n))
}

/// Shuffle controls for the nine bytes of a window (byte 0: the byte before it), by their
/// continuation bits (bit k: byte k continues; bit 0 set only where byte 0 starts a value
/// ending in byte 1), for windows with no value of three groups or more: value j goes to
/// 16-bit lane j, its first group in the low byte and its second (if any) in the high byte.
/// Bytes 0x80 give zero: the high byte of one-group values, and the lanes past the last value
/// that ends in the window (a value started by byte 8 ends in the next window).
const WINDOW_SHUFFLES: [[u8; 16]; 512] = window_shuffles();

const fn window_shuffles() -> [[u8; 16]; 512] {
    let mut table = [[0x80u8; 16]; 512];
    let mut mask = 0usize;
    while mask < 512 {
        let (mut lane, mut byte) = (0usize, if mask & 1 == 1 { 0u8 } else { 1u8 });
        while byte < 9 {
            if (mask >> byte) & 1 == 1 {
                if byte == 8 {
                    break;
                }
                table[mask][2 * lane + 1] = byte + 1;
            }
            table[mask][2 * lane] = byte;
            byte += 1 + ((mask >> byte) & 1) as u8;
            lane += 1;
        }
        mask += 1;
    }
    table
}

/// Decodes a window of eight bytes into `dst` with SIMD, the way Masked VByte decodes
/// varints. `groups` holds the byte before the window and the window's bytes, less `BASE`;
/// `mask` their continuation bits (see [`WINDOW_SHUFFLES`]). Every group is first made
/// signed or not as its place in a value wants (a value's last group is sign-extended, a
/// first group of two is not), a table shuffle by `mask` gathers each value's groups into a
/// 16-bit lane, and each lane's value is its first group plus 32 times its last. Returns the
/// number of values (4 to 8); the lanes after them are written too (the next window
/// overwrites them).
#[inline(always)]
fn window_values(groups: u8x16, mask: usize, dst: &mut [u32]) -> usize {
    let values = 8 - (mask >> 1).count_ones() as usize;
    // Group g (0..64) as a signed byte: g for 0..16, g - 32 above. That is sext5(g) for the
    // last group of a value (g < 32) and g & 31 for a first group that continues (g >= 32).
    let signed = cast::<i8x16, u8x16>(cast::<u8x16, i8x16>(groups).simd_gt(i8x16::splat(15)))
        & u8x16::splat(32);
    let shuffle = WINDOW_SHUFFLES.get(mask).copied().unwrap_or([0x80; 16]);
    let lanes: i16x8 = cast((groups - signed).shuffle(u8x16::new(shuffle)));
    // value = first group + 32 * last group, each lane's bytes read as signed.
    let diffs = ((lanes << 8) >> 8) + ((lanes >> 8) << 5);
    for (slot, value) in dst.iter_mut().zip(i32x8::from_i16x8(diffs).to_array()) {
        *slot = value as u32;
    }
    values
}

/// The same decoding with a check at every step, value by value as pycocotools reads it: the
/// path for strings the fast loop found a problem in (it returns the error at the first
/// offending byte or value), and the plain reference the fast loop is tested and fuzzed
/// against.
pub fn decode_counts_checked(s: &[u8]) -> Result<Vec<u32>> {
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

    /// What [`decode_fast`] must give for a string the checked decoder reads as `want`:
    /// the same runs, or `None` where that fails or has a run of 2^30 or more.
    fn assert_fast_agrees(s: &[u8], want: Option<&Vec<u32>>) {
        for simd in [true, false] {
            let mut out = Vec::new();
            let got = decode_fast(s, &mut out, simd).map(|k| out[..k].to_vec());
            match want {
                Some(w) if w.iter().all(|&run| run < 1 << 30) => {
                    assert_eq!(got.as_ref(), Some(w), "simd {simd}: {s:?}")
                }
                _ => assert!(got.is_none(), "simd {simd}: {s:?}"),
            }
        }
    }

    #[test]
    fn simd_and_scalar_windows_equal_the_checked_decoder() {
        // Long strings, so that most of each goes through whole windows: runs stepping mostly
        // by one- and two-group differences, sometimes by longer ones, around levels that
        // put the runs below, across and above 2^30 and 2^31; then long random strings of the
        // alphabet (negative runs, values of every length, truncation).
        let mut rng = crate::test_rng::Rng::new(0x51d_5eed);
        let levels = [
            0u64,
            600,
            (1 << 30) - 3000,
            (1 << 31) - 3000,
            u64::from(u32::MAX) - 3000,
        ];
        for _ in 0..1500 {
            let n = rng.below(300) as usize;
            let level = levels[rng.below(levels.len() as u64) as usize];
            let mut counts: Vec<u32> = Vec::with_capacity(n);
            for i in 0..n {
                let prev = if i >= 2 {
                    i64::from(counts[i - 2])
                } else {
                    level as i64 + rng.below(2000) as i64
                };
                let step = match rng.below(20) {
                    0 => rng.below(1 << 16) as i64 - (1 << 15),
                    1..=4 => rng.below(1024) as i64 - 512,
                    _ => rng.below(32) as i64 - 16,
                };
                counts.push((prev + step).clamp(0, i64::from(u32::MAX)) as u32);
            }
            let s = encode_counts(&counts);
            assert_fast_agrees(&s, Some(&counts));
            assert_area_agrees(&s);
            assert_eq!(decode_counts(&s), Ok(counts));
        }
        for _ in 0..3000 {
            let n = rng.below(200) as usize;
            let s: Vec<u8> = (0..n)
                .map(|_| match rng.below(6) {
                    0 => BASE + 32 + rng.below(32) as u8,
                    1 => BASE + 16 + rng.below(16) as u8,
                    _ => BASE + rng.below(16) as u8,
                })
                .collect();
            let want = decode_counts_checked(&s).ok();
            assert_fast_agrees(&s, want.as_ref());
            assert_area_agrees(&s);
        }
    }

    /// [`decode_area`] equals the area of the checked decoder's runs, or its error.
    fn assert_area_agrees(s: &[u8]) {
        let want = decode_counts_checked(s).map(|runs| crate::rle::ops::area_of_counts(&runs));
        let mut scratch = vec![9; 2];
        assert_eq!(decode_area(s, &mut scratch), want, "{s:?}");
    }

    #[test]
    fn window_shuffles_gather_each_value() {
        // Every mask without two continuing bytes in a row: lane j holds value j's groups.
        for (mask, shuffle) in WINDOW_SHUFFLES.iter().enumerate() {
            if mask & (mask >> 1) != 0 {
                continue;
            }
            let mut want = [0x80u8; 16];
            let mut lane = 0;
            let mut byte = if mask & 1 == 1 { 0 } else { 1 };
            while byte < 9 {
                let continues = (mask >> byte) & 1 == 1;
                if continues && byte == 8 {
                    break;
                }
                want[2 * lane] = byte as u8;
                if continues {
                    want[2 * lane + 1] = byte as u8 + 1;
                    byte += 1;
                }
                byte += 1;
                lane += 1;
            }
            assert_eq!(lane, 8 - (mask >> 1).count_ones() as usize, "{mask:#b}");
            assert_eq!(*shuffle, want, "{mask:#b}");
        }
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
            let mut scratch = vec![7; 3];
            assert_eq!(decode_counts_with(&s, &mut scratch), Ok(&counts[..]));
            // A second, shorter string in the same (longer) buffer.
            let short = encode_counts(&counts[..counts.len() / 2]);
            let want = &counts[..counts.len() / 2];
            assert_eq!(decode_counts_with(&short, &mut scratch), Ok(want));
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
