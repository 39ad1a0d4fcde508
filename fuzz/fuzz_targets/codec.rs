//! Any byte string: decoding equals the checked decoder (pycocotools' value-by-value loop with
//! cocors' checks), whatever path the string takes through the SIMD and scalar windows, and so
//! does the area summed while decoding; what decodes re-encodes to a string that decodes to the
//! same runs, and encoding any runs round-trips.
#![no_main]
use cocors_core::rle::codec::{decode_area, decode_counts, decode_counts_checked, encode_counts};
use cocors_core::rle::ops::area_of_counts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = decode_counts(data);
    assert_eq!(decoded, decode_counts_checked(data));
    let mut scratch = Vec::new();
    assert_eq!(
        decode_area(data, &mut scratch),
        decoded
            .as_ref()
            .map(|runs| area_of_counts(runs))
            .map_err(Clone::clone)
    );
    if let Ok(counts) = decoded {
        let again = encode_counts(&counts);
        assert_eq!(decode_counts(&again).ok(), Some(counts));
    }
    let runs: Vec<u32> = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decode_counts(&encode_counts(&runs)).ok(), Some(runs));
});
