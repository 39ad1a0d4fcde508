"""Mask API benchmark: cocors against pycocotools 2.0.11 and its peers, side by side.

    python benches/bench_mask.py            # all tools, writes benches/out/mask.{md,json,png}

Each tool runs in its own process on the same inputs (benches/gen_masks.py, generated once and
shared through a pickle). Each operation is timed as the median of repeated calls; every tool
runs `--rounds` times (default 3), alternating, and keeps its best median per operation, so that
a slow minute of this shared machine does not decide a row. Each
tool's outputs are hashed after normalising to pycocotools' types so the table can say whether
they are byte-identical to pycocotools'. cocors runs twice: with 1 thread and with 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
H, W = 480, 640

# (operation, what one item is, how many items per call)
OPS = [
    ("frPyObjects 10k polygons", "polygons/s", 10_000),
    ("encode 1000 masks", "masks/s", 1000),
    ("decode 1000 masks", "masks/s", 1000),
    ("iou 100x100 RLEs", "calls/s", 1),
    ("iou 1000x1000 boxes", "calls/s", 1),
    ("merge 1000 RLEs (union)", "calls/s", 1),
    ("merge 1000 RLEs (intersection)", "calls/s", 1),
    ("area 10k RLEs", "RLEs/s", 10_000),
    ("toBbox 10k RLEs", "RLEs/s", 10_000),
]

TOOLS = ["pycocotools", "cocors (1 thread)", "cocors (2 threads)", "faster-coco-eval", "hotcoco",
         "ultrafast-pycocotools", "rlemasklib"]


def make_inputs(path: Path) -> None:
    sys.path.insert(0, str(HERE))
    import gen_masks

    stack = gen_masks.masks(1000)
    data = {
        "polygons": gen_masks.polygons(10_000),
        "masks": stack,
        "rles": gen_masks.rle_strings(stack) * 10,  # 10k RLEs
        "boxes_a": gen_masks.boxes(1000, seed=2),
        "boxes_b": gen_masks.boxes(1000, seed=3),
    }
    with open(path, "wb") as f:
        pickle.dump(data, f)


def digest(obj) -> str:
    h = hashlib.sha256()

    def feed(o):
        if isinstance(o, dict):
            feed(list(o["size"]))
            c = o["counts"]
            h.update(c.encode() if isinstance(c, str) else bytes(c))
        elif isinstance(o, (list, tuple)):
            h.update(b"[")
            for x in o:
                feed(x)
            h.update(b"]")
        elif isinstance(o, np.ndarray):
            a = np.asarray(o)
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a, dtype=a.dtype).tobytes(order="F"))
        else:
            h.update(repr(o).encode())

    feed(obj)
    return h.hexdigest()[:16]


def api(tool: str):
    """A pycocotools-shaped namespace for each tool (None where it has no such operation)."""
    if tool == "pycocotools":
        import types

        import pycocotools.mask as pm

        # pycocotools' area() of more than 255 RLEs raises OverflowError under numpy 2 (a
        # throwaway uint8 array in _mask.pyx): call it on chunks of 255, as users must.
        def area(rles):
            if type(rles) is not list:
                return pm.area(rles)
            parts = [pm.area(rles[i : i + 255]) for i in range(0, len(rles), 255)]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)

        m = types.SimpleNamespace(**{k: getattr(pm, k) for k in dir(pm) if not k.startswith("__")})
        m.area = area
    elif tool.startswith("cocors"):
        import cocors.mask as m
    elif tool == "faster-coco-eval":
        import faster_coco_eval.core.mask as m
    elif tool == "hotcoco":
        import hotcoco.mask as m
    elif tool == "ultrafast-pycocotools":
        import ultrafast_pycocotools.mask as m
    elif tool == "rlemasklib":
        return rlemasklib_api()
    else:
        raise SystemExit(f"unknown tool {tool}")
    return m


def rlemasklib_api():
    """rlemasklib has its own API: adapt it to pycocotools' calls where it has the operation."""
    import types

    import rlemasklib as r

    ns = types.SimpleNamespace()
    ns.frPyObjects = lambda polys, h, w: [r.from_polygon(np.array(p).reshape(-1, 2), imshape=(h, w)) for p in polys]
    ns.encode = lambda m: r.encode(m, batch_first=False)
    def decode(rles):
        # pycocotools' output, an (h, w, n) Fortran array, filled mask by mask (each slice is
        # contiguous; np.stack(axis=2) would build a C-ordered array pixel by pixel instead).
        first = r.decode(rles[0])
        out = np.empty(first.shape + (len(rles),), dtype=np.uint8, order="F")
        out[:, :, 0] = first
        for i, x in enumerate(rles[1:], 1):
            out[:, :, i] = r.decode(x)
        return out

    ns.decode = decode
    ns.area = lambda rles: r.area(rles)
    ns.toBbox = lambda rles: r.to_bbox(rles)
    ns.merge = lambda rles, intersect=0: (r.intersection if intersect else r.union)(rles)
    return ns


def run_tool(tool: str, inputs: Path, min_time: float) -> dict:
    if tool == "cocors (1 thread)":
        import cocors
        cocors.set_num_threads(1)
    elif tool == "cocors (2 threads)":
        import cocors
        cocors.set_num_threads(2)
    m = api(tool)
    with open(inputs, "rb") as f:
        d = pickle.load(f)
    polys, masks, rles = d["polygons"], d["masks"], d["rles"]
    calls = {
        "frPyObjects 10k polygons": lambda: m.frPyObjects(polys, H, W),
        "encode 1000 masks": lambda: m.encode(masks),
        "decode 1000 masks": lambda: m.decode(rles[:1000]),
        "iou 100x100 RLEs": lambda: m.iou(rles[:100], rles[100:200], [0] * 100),
        "iou 1000x1000 boxes": lambda: m.iou(d["boxes_a"], d["boxes_b"], [0] * 1000),
        "merge 1000 RLEs (union)": lambda: m.merge(rles[:1000]),
        "merge 1000 RLEs (intersection)": lambda: m.merge(rles[:1000], intersect=1),
        "area 10k RLEs": lambda: m.area(rles),
        "toBbox 10k RLEs": lambda: m.toBbox(rles),
    }
    result = {}
    for name, _, items in OPS:
        f = calls[name]
        try:
            out = f()  # warm-up, and the output to hash
        except Exception as e:  # the tool lacks the operation or fails on it
            result[name] = {"error": f"{type(e).__name__}: {str(e)[:80]}"}
            continue
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < 50):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        per_call = statistics.median(times)
        result[name] = {"rate": items / per_call, "seconds": per_call, "digest": digest(out)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool")
    ap.add_argument("--inputs", default=str(OUT / "mask_inputs.pkl"))
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--rounds", type=int, default=3,
                    help="run every tool this many times, alternating, and keep each one's best "
                         "rate per operation (this machine's speed drifts by 2x between minutes)")
    args = ap.parse_args()
    if args.tool:
        print(json.dumps(run_tool(args.tool, Path(args.inputs), args.min_time)))
        return
    OUT.mkdir(exist_ok=True)
    inputs = Path(args.inputs)
    if not inputs.exists():
        make_inputs(inputs)
    results: dict = {}
    for round_ in range(args.rounds):
        for tool in args.tools.split(","):
            env = dict(os.environ)
            proc = subprocess.run(
                [sys.executable, __file__, "--tool", tool, "--inputs", str(inputs),
                 "--min-time", str(args.min_time)],
                capture_output=True, text=True, env=env,
            )
            if proc.returncode != 0:
                print(f"{tool}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                results.setdefault(tool, {})
                continue
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            best = results.setdefault(tool, {})
            for name, r in got.items():
                if "rate" not in best.get(name, {}) or r.get("rate", 0) > best[name]["rate"]:
                    best[name] = r
            print(f"{tool}: round {round_ + 1} done", file=sys.stderr)
    (OUT / "mask.json").write_text(json.dumps(results, indent=1))
    table = markdown(results)
    (OUT / "mask.md").write_text(table)
    print(table)
    chart(results, OUT / "mask.png")


def markdown(results: dict) -> str:
    tools = [t for t in TOOLS if t in results]
    ref = results.get("pycocotools", {})
    lines = [
        "| operation | " + " | ".join(tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for name, unit, _ in OPS:
        cells = []
        base = ref.get(name, {}).get("rate")
        for t in tools:
            r = results[t].get(name, {})
            if "rate" not in r:
                cells.append("n/a")
                continue
            cell = fmt(r["rate"])
            if base and t != "pycocotools":
                cell += f" ({r['rate'] / base:.1f}x)"
            if t != "pycocotools" and r.get("digest") != ref.get(name, {}).get("digest"):
                cell += " ≠"
            cells.append(cell)
        lines.append(f"| {name} ({unit}) | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Ratios are against pycocotools in the same run; ≠ marks output that is not "
                 "byte-identical to pycocotools' (other APIs return other types, e.g. rlemasklib).")
    return "\n".join(lines) + "\n"


def fmt(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def chart(results: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)
        return
    tools = [t for t in TOOLS if t in results and t != "pycocotools"]
    ref = results.get("pycocotools", {})
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / max(len(tools), 1)
    for i, t in enumerate(tools):
        ys = []
        for name, _, _ in OPS:
            r, b = results[t].get(name, {}), ref.get(name, {})
            ys.append(r["rate"] / b["rate"] if "rate" in r and "rate" in b else 0)
        ax.bar(np.arange(len(OPS)) + i * width, ys, width, label=t)
    ax.axhline(1, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("speed vs pycocotools 2.0.11 (x, log)")
    ax.set_xticks(np.arange(len(OPS)) + width * (len(tools) - 1) / 2)
    ax.set_xticklabels([n for n, _, _ in OPS], rotation=20, ha="right", fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title("Mask API throughput, 2 cores, best of 3 rounds (benches/bench_mask.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
