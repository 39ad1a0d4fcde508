"""Writes the Mask API benchmark inputs as flat files for the Rust profiling example:

    python benches/dump_mask_inputs.py /tmp/polys.bin /tmp/rles.bin
    cargo run --release -p cocors-core --example maskbench -- /tmp/polys.bin /tmp/rles.bin

Each record is a little-endian u32 length followed by that many f64 coordinates (polygons) or
counts-string bytes (RLEs of 480x640 masks).
"""

import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_masks  # noqa: E402


def main(polys_path: str, rles_path: str) -> None:
    with open(polys_path, "wb") as f:
        for p in gen_masks.polygons(10_000):
            f.write(struct.pack("<I", len(p)))
            f.write(np.asarray(p, "<f8").tobytes())
    with open(rles_path, "wb") as f:
        for r in gen_masks.rle_strings(gen_masks.masks(1000)):
            c = r["counts"].encode() if isinstance(r["counts"], str) else r["counts"]
            f.write(struct.pack("<I", len(c)))
            f.write(c)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
