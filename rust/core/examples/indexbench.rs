//! Times `Index::open` on a file: `cargo run --release -p cocors-core --example indexbench FILE [reps] [chunk]`.
#![allow(clippy::print_stdout)] // a command-line tool: printing is its output
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        println!("usage: indexbench FILE [reps]");
        std::process::exit(2);
    };
    let reps: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let chunk: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(4 << 20);
    for _ in 0..reps {
        let t = Instant::now();
        if let Ok(file) = std::fs::File::open(path) {
            let scanned =
                cocors_core::index::scan::scan(file, chunk, cocors_core::index::Document::Coco);
            print!("scan {:.3} s, ", t.elapsed().as_secs_f64());
            drop(scanned);
        }
        let t = Instant::now();
        match cocors_core::index::Index::open(std::path::Path::new(path)) {
            Ok(ix) => println!(
                "open {:.3} s, {} annotations, {:.1} MB of columns",
                t.elapsed().as_secs_f64(),
                ix.annotations.len(),
                ix.heap_bytes() as f64 / 1e6
            ),
            Err(e) => println!("error: {e}"),
        }
    }
}
