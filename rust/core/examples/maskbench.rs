//! Times the core Mask API work on the benchmark inputs, without Python (a profiling aid; the
//! side-by-side numbers come from benches/bench_mask.py). Inputs from
//! `python benches/dump_mask_inputs.py polys.bin rles.bin`.
//! `cargo run --release --example maskbench -- polys.bin rles.bin`

#![allow(clippy::print_stdout)] // a command-line tool: printing is its output

use cocors_core::rle::{batch, poly, Rle};
use std::time::Instant;

fn read_items(path: &str) -> std::io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        let n = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
        i += 4;
        out.push(data[i..i + n * if path.contains("poly") { 8 } else { 1 }].to_vec());
        i += out.last().map_or(0, Vec::len);
    }
    Ok(out)
}

fn time<T>(name: &str, items: usize, mut f: impl FnMut() -> T) {
    let mut best = f64::MAX;
    for _ in 0..15 {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{name}: {:.3} ms, {:.1} ns/item",
        best * 1e3,
        best * 1e9 / items as f64
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let polys: Vec<Vec<f64>> = read_items(&args[1])?
        .iter()
        .map(|b| {
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect()
        })
        .collect();
    let strings = read_items(&args[2])?;
    time("frPoly core", polys.len(), || {
        polys
            .iter()
            .map(|p| poly::from_polygon(p, 480, 640))
            .collect::<Vec<_>>()
    });
    let rles: Vec<Rle> = polys
        .iter()
        .filter_map(|p| poly::from_polygon(p, 480, 640).ok())
        .collect();
    time("poly strings", rles.len(), || batch::to_strings(&rles));
    println!(
        "mean counts {}",
        rles.iter().map(|r| r.counts.len()).sum::<usize>() as f64 / rles.len() as f64
    );
    let masks: Vec<Rle> = strings
        .iter()
        .filter_map(|s| Rle::from_counts_string(480, 640, s).ok())
        .collect();
    time("parse strings", masks.len(), || {
        strings
            .iter()
            .map(|s| Rle::from_counts_string(480, 640, s).ok())
            .collect::<Vec<_>>()
    });
    time("bboxes (parsed)", masks.len(), || batch::bboxes(&masks));
    time("bboxes (parsed, plain loop)", masks.len(), || {
        masks
            .iter()
            .map(cocors_core::rle::ops::to_bbox)
            .collect::<Vec<_>>()
    });
    println!(
        "mean runs {}",
        masks.iter().map(|r| r.counts.len()).sum::<usize>() as f64 / masks.len() as f64
    );
    let inputs: Vec<batch::RleInput<'_>> = strings
        .iter()
        .map(|s| batch::RleInput::Compressed {
            h: 480,
            w: 640,
            counts: s,
        })
        .collect();
    time("bboxes of strings", inputs.len(), || {
        batch::bboxes_of_inputs(&inputs)
    });
    time("areas of strings", inputs.len(), || {
        batch::areas_of_inputs(&inputs)
    });
    time("merge of strings", 1, || {
        batch::merge_inputs(&inputs, false)
    });
    // Where merging through a cover overtakes pycocotools' pairwise walk (`merge_inputs`
    // picks by an estimate): merges of k inputs each, both ways.
    for k in [4usize, 8, 12, 16, 32] {
        let groups = || masks.chunks_exact(k);
        let n = masks.len() / k;
        time(&format!("merge {k}: walk"), n, || {
            groups()
                .map(|g| cocors_core::rle::ops::merge(g, false))
                .collect::<Vec<_>>()
        });
        time(&format!("merge {k}: chosen"), n, || {
            groups().map(|g| batch::merge(g, false)).collect::<Vec<_>>()
        });
    }
    Ok(())
}
