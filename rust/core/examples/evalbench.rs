//! Times the phases of a COCOeval run in Rust alone (a profiling aid; the side-by-side
//! numbers come from benches/bench_eval.py):
//! `cargo run --release -p cocors-core --example evalbench -- GT DT bbox|segm|keypoints [reps]`

#![allow(clippy::print_stdout)] // a command-line tool: printing is its output

use cocors_core::eval::{self, AccumulateParams, Evaluation, IouType, Params};
use cocors_core::index::Index;
use std::path::Path;
use std::time::Instant;

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    // numpy's: start + step * i, the last exactly b.
    let step = (b - a) / (n - 1) as f64;
    (0..n)
        .map(|i| if i == n - 1 { b } else { a + step * i as f64 })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let kind = match args[3].as_str() {
        "bbox" => IouType::Bbox,
        "segm" => IouType::Segm,
        _ => IouType::Keypoints,
    };
    let reps: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(5);
    let gt_index = Index::open(Path::new(&args[1]))?;
    let dt_index = Index::open_results(Path::new(&args[2]))?;
    let mut img_ids = gt_index.images.ids.to_vec();
    img_ids.sort_unstable();
    img_ids.dedup();
    let mut cat_ids = gt_index.categories.ids.to_vec();
    cat_ids.sort_unstable();
    cat_ids.dedup();
    let mut rows: Vec<usize> = (0..gt_index.annotations.len()).collect();
    if kind == IouType::Keypoints {
        cat_ids = vec![1];
        rows.retain(|&r| gt_index.ann.category_id.get(r) == 1);
    }
    let params = Params {
        iou_type: kind,
        img_ids: img_ids.clone(),
        cat_ids: cat_ids.clone(),
        use_cats: true,
        iou_thrs: linspace(0.5, 0.95, 10),
        area_rng: if kind == IouType::Keypoints {
            vec![[0.0, 1e10], [1024.0, 9216.0], [9216.0, 1e10]]
        } else {
            vec![[0.0, 1e10], [0.0, 1024.0], [1024.0, 9216.0], [9216.0, 1e10]]
        },
        max_det: if kind == IouType::Keypoints { 20 } else { 100 },
        // pycocotools' setKpParams: COCO's person sigmas.
        kpt_oks_sigmas: [
            0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87,
            0.87, 0.89, 0.89,
        ]
        .iter()
        .map(|s| s / 10.0)
        .collect(),
    };
    let m_list: Vec<usize> = if kind == IouType::Keypoints {
        vec![20]
    } else {
        vec![1, 10, 100]
    };
    let ap = AccumulateParams {
        k_list: (0..cat_ids.len()).collect(),
        a_list: (0..params.area_rng.len()).collect(),
        m_list: m_list.clone(),
        i_list: (0..img_ids.len()).collect(),
        rec_thrs: linspace(0.0, 1.0, 101),
        dims: [10, 101, cat_ids.len(), params.area_rng.len(), m_list.len()],
    };
    let exp = |buf: &mut [f64]| -> cocors_core::Result<()> {
        buf.iter_mut().for_each(|v| *v = v.exp());
        Ok(())
    };
    let mut best = [f64::INFINITY; 4];
    for _ in 0..reps {
        let t0 = Instant::now();
        let gt = eval::from_index(&gt_index, &rows, kind)?;
        let t1 = Instant::now();
        let dt = eval::from_results(&dt_index, kind, |i| gt_index.image_size(i))?;
        let t2 = Instant::now();
        let ev = Evaluation::new(params.clone(), &gt, &dt, &exp)?;
        let t3 = Instant::now();
        let acc = eval::accumulate(&ev, &ap)?;
        let t4 = Instant::now();
        std::hint::black_box(acc);
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        let times = [ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4)];
        println!(
            "gt {:.1} dt {:.1} evaluate {:.1} accumulate {:.1} ms",
            times[0], times[1], times[2], times[3]
        );
        for (b, t) in best.iter_mut().zip(times) {
            *b = b.min(t);
        }
    }
    // The minimum of each phase: the least disturbed run on a noisy machine.
    println!(
        "min: gt {:.1} dt {:.1} evaluate {:.1} accumulate {:.1} ms",
        best[0], best[1], best[2], best[3]
    );
    Ok(())
}
