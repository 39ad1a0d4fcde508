//! Any byte string: decoding equals a plain reference decoder written here (pycocotools'
//! `rleFrString` loop with cocors' checks: alphabet, truncation, runs in `0..2^32`), whatever
//! path the string takes through the SIMD and scalar windows; what decodes re-encodes to a
//! string that decodes to the same runs, and encoding any runs round-trips.
#![no_main]
use cocors_core::rle::codec::{decode_counts, encode_counts};
use libfuzzer_sys::fuzz_target;

/// One value at a time, as pycocotools reads it, with a check at every step.
fn reference(s: &[u8]) -> Option<Vec<u32>> {
    let mut counts: Vec<u32> = Vec::new();
    let mut p = 0;
    while p < s.len() {
        let (mut x, mut k) = (0i64, 0u32);
        loop {
            let c = i64::from(*s.get(p)?) - 48;
            if !(0..64).contains(&c) || k == 7 {
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
        if counts.len() > 2 {
            x += i64::from(counts[counts.len() - 2]);
        }
        counts.push(u32::try_from(x).ok()?);
    }
    Some(counts)
}

fuzz_target!(|data: &[u8]| {
    let decoded = decode_counts(data).ok();
    assert_eq!(decoded, reference(data));
    if let Some(counts) = decoded {
        let again = encode_counts(&counts);
        assert_eq!(decode_counts(&again).ok(), Some(counts));
    }
    let runs: Vec<u32> = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decode_counts(&encode_counts(&runs)).ok(), Some(runs));
});
