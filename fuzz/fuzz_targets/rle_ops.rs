//! Any pair of run lists: merge, IoU and box never panic or hang, and on canonical input the
//! fast merge path equals the sequential port pixel for pixel.
#![no_main]
use cocors_core::rle::{batch, mask, ops, Rle};
use libfuzzer_sys::fuzz_target;

fn rle(h: u64, w: u64, bytes: &[u8]) -> Rle {
    Rle { h, w, counts: bytes.iter().map(|&b| u32::from(b % 16)).collect() }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (h, w) = (u64::from(data[0] % 8) + 1, u64::from(data[1] % 8) + 1);
    let split = usize::from(data[2]) % (data.len() - 2) + 3;
    let (a, b) = data[3..].split_at((split - 3).min(data.len() - 3));
    let (a, b) = (rle(h, w, a), rle(h, w, b));
    let _ = ops::to_bbox(&a);
    let _ = ops::merge(&[a.clone(), b.clone()], false);
    let mut out = vec![0.0; 1];
    let _ = batch::iou_rles(std::slice::from_ref(&a), std::slice::from_ref(&b), &[false], &mut out);
    // Canonical pixels: union and intersection through either path (the walk, and the
    // cover that `batch::merge` takes for these many runs a pixel) equal the pixel-wise ones.
    if let (Ok(pa), Ok(pb)) = (mask::decode(&a), mask::decode(&b)) {
        let (ca, cb) = (mask::encode(&pa, h, w), mask::encode(&pb, h, w));
        let many = vec![ca.clone(), cb.clone(), ca, cb];
        for intersect in [false, true] {
            let pixels: Vec<u8> = pa
                .iter()
                .zip(&pb)
                .map(|(x, y)| if intersect { x & y } else { x | y })
                .collect();
            let want = Some(mask::encode(&pixels, h, w).counts);
            assert_eq!(ops::merge(&many, intersect).map(|r| r.counts).ok(), want);
            assert_eq!(batch::merge(&many, intersect).map(|r| r.counts).ok(), want);
        }
    }
});
