//! Any byte string: decoding never panics; what decodes re-encodes to a string that decodes to
//! the same runs, and encoding any runs round-trips.
#![no_main]
use cocors_core::rle::codec::{decode_counts, encode_counts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(counts) = decode_counts(data) {
        let again = encode_counts(&counts);
        assert_eq!(decode_counts(&again).ok(), Some(counts));
    }
    let runs: Vec<u32> = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decode_counts(&encode_counts(&runs)).ok(), Some(runs));
});
