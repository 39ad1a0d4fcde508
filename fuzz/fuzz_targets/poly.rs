//! Any polygon (coordinates from the input, including NaN, huge and out-of-image values) in any
//! small mask: rasterising never panics, and in a mask of width >= 1 the runs cover it exactly;
//! the box of the result lies inside the mask.
#![no_main]
use cocors_core::rle::{ops, poly};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (h, w) = (u64::from(data[0] % 40), u64::from(data[1] % 40));
    let xy: Vec<f64> = data[2..]
        .chunks_exact(2)
        .map(|c| {
            let v = i16::from_le_bytes([c[0], c[1]]);
            match v {
                i16::MIN => f64::NAN,
                i16::MAX => 1e300,
                _ => f64::from(v) / 64.0,
            }
        })
        .collect();
    if let Ok(rle) = poly::from_polygon(&xy, h, w) {
        if w >= 1 {
            assert_eq!(rle.counts_sum(), h * w);
            if let Ok(b) = ops::to_bbox(&rle) {
                if ops::area(&rle) > 0 {
                    assert!(b[0] + b[2] <= w as f64 && b[1] + b[3] <= h as f64);
                }
            }
        }
    }
});
