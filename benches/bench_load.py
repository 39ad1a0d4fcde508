"""COCO loading benchmark: cocors.COCO against pycocotools 2.0.11 and its peers, side by side.

    python benches/bench_load.py                      # 50 MB, 476 MB and 1.5 GB files
    python benches/bench_load.py --sizes 50MB         # a quick run
    python benches/bench_load.py --python .venv/bin/python --python-for hotcoco=/other/bin/python

Files come from benches/gen_coco.py (COCO-train-like, 7.3 annotations per image, polygons,
1% crowd RLEs, 0.5% compressed RLE strings), written once to benches/out/coco_<size>.json and
reused (regenerated when gen_coco.VERSION or --seed changes; a file there without its
.meta.json sidecar was not made here and is used as it is). Each file is read once before the
tools run so all of them find it in the page cache.

Part 1, loading: each tool constructs its COCO object (or parses the JSON) in its own process,
so the peak RSS (ru_maxrss) is that tool's alone; the child reports the constructor's wall
time, the peak RSS and the RSS right after the constructor. A tool whose estimated peak does
not fit in the machine's available memory is "skipped (memory)". This machine's speed drifts
by a third within minutes, so a tool whose first constructor took under --repeat-under seconds
is constructed --repeat times in all (fresh processes, alternating with the other such tools)
and its cell is the median run, with the range of all its runs.

Part 2, data-loader pattern, in the same process right after the constructor: for each of the
first N image ids (sorted), ``anns = c.loadAnns(c.getAnnIds(imgIds=i)); [c.annToMask(a) for a in
anns]``, reported as images/s, with the time of the first image (lazy indexes pay then) and the
peak RSS at the end. cocors also runs its per-image calls ``c.image_targets(i)`` and
``c.image_masks(i)`` as a separate row (its own process). The masks of the first 50 images are
hashed afterwards, outside the timing: ≠ marks a tool whose masks differ from pycocotools'.

Writes benches/out/load.{md,json,png}. A tool that is not installed, or lacks an API, is n/a.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SIZES = ["50MB", "476MB", "1.5GB"]

# Load table rows.
TOOLS = ["cocors", "pycocotools", "faster-coco-eval", "hotcoco", "ultrafast-pycocotools",
         "json.load", "orjson.loads", "file read"]
# Data-loader table rows ("cocors fast" is cocors' image_targets + image_masks).
LOADER_TOOLS = ["cocors", "cocors fast", "pycocotools", "faster-coco-eval", "hotcoco",
                "ultrafast-pycocotools"]
FAST = "cocors fast"
LABEL = {FAST: "cocors image_targets + image_masks", "file read": "file read (floor)"}

# Distribution names, for versions.
DIST = {"cocors": "cocors", FAST: "cocors", "pycocotools": "pycocotools",
        "faster-coco-eval": "faster-coco-eval", "hotcoco": "hotcoco",
        "ultrafast-pycocotools": "ultrafast-pycocotools", "orjson.loads": "orjson"}

# Estimated peak RSS as a multiple of the file size (constructor plus the loader loop), from
# ANCHORS.md measurements (pycocotools/faster-coco-eval ~6.5x; ultrafast materialises every dict
# on its first query, ~7x); cocors' is a conservative guess. Used only to skip what cannot fit.
MEM_FACTOR = {"cocors": 3.0, FAST: 3.0, "pycocotools": 7.0, "faster-coco-eval": 7.0,
              "hotcoco": 5.0, "ultrafast-pycocotools": 7.5, "json.load": 6.5,
              "orjson.loads": 5.0, "file read": 1.1}
MEM_BASE = 400e6  # interpreter, numpy, the tool's own module

DIGEST_IMAGES = 50


# ---------------------------------------------------------------------------------------------
# Child: one tool, one file.


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_peak() -> int:
    """Peak RSS of this process. getrusage(RUSAGE_SELF).ru_maxrss would do, but on Linux it
    keeps the parent's peak across fork + exec (the parent has generated the files): VmHWM is
    this process image's own high-water mark."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def constructor(tool: str):
    """Import the tool (outside the timing) and return a one-argument loader of a path."""
    if tool in ("cocors", FAST):
        from cocors import COCO

        return COCO
    if tool == "pycocotools":
        from pycocotools.coco import COCO

        return COCO
    if tool == "faster-coco-eval":
        from faster_coco_eval import COCO

        return COCO
    if tool == "hotcoco":
        import hotcoco

        return hotcoco.COCO
    if tool == "ultrafast-pycocotools":
        from ultrafast_pycocotools import COCO

        return COCO
    if tool == "json.load":
        def load(path):
            with open(path) as f:
                return json.load(f)

        return load
    if tool == "orjson.loads":
        import orjson

        def load(path):
            with open(path, "rb") as f:
                return orjson.loads(f.read())

        return load
    if tool == "file read":
        def load(path):
            with open(path, "rb") as f:
                return f.read()

        return load
    raise SystemExit(f"unknown tool {tool}")


def per_image(tool: str, c):
    """The data-loader step for one image id: annotations and their masks."""
    if tool == FAST:
        def step(i):
            return c.image_targets(i), c.image_masks(i)
    else:
        def step(i):
            anns = c.loadAnns(c.getAnnIds(imgIds=i))
            return anns, [c.annToMask(a) for a in anns]
    return step


def mask_digests(tool: str, step, ids) -> tuple[str, str]:
    """Hashes of the masks of these images: in the order the tool gives them, and per image
    sorted (equal when only the order of the annotations differs)."""
    import numpy as np

    ordered, content = hashlib.sha256(), hashlib.sha256()
    for i in ids:
        _, masks = step(i)
        if tool == FAST:
            m = np.asarray(masks)
            masks = [m[:, :, k] for k in range(m.shape[2])] if m.ndim == 3 else []
        hashes = []
        for m in masks:
            a = np.asarray(m)
            hashes.append(hashlib.sha256(
                str(a.shape).encode()
                + np.ascontiguousarray(a.astype(np.uint8, copy=False)).tobytes()).digest())
        ordered.update(b"[%d]" % len(hashes) + b"".join(hashes))
        content.update(b"[%d]" % len(hashes) + b"".join(sorted(hashes)))
    return ordered.hexdigest()[:16], content.hexdigest()[:16]


def child(tool: str, path: str, loader_images: int, result_path: str) -> None:
    # Libraries print progress to stdout (Python or C level): send fd 1 to /dev/null.
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    res: dict = {"tool": tool}

    def save():
        with open(result_path, "w") as f:
            json.dump(res, f)

    try:
        from importlib.metadata import version

        res["version"] = version(DIST[tool]) if tool in DIST else platform.python_version()
    except Exception:
        pass
    try:
        load = constructor(tool)
    except Exception as e:
        res["error"] = f"{type(e).__name__}: {str(e)[:200]}"
        save()
        return
    res["rss_before"] = rss_now()
    t0 = time.perf_counter()
    c = load(path)
    res["seconds"] = time.perf_counter() - t0
    res["peak_rss"] = rss_peak()
    res["rss_after"] = rss_now()
    save()
    if loader_images <= 0 or tool not in LOADER_TOOLS:
        return
    lo: dict = {}
    res["loader"] = lo
    try:
        ids = sorted(c.getImgIds())[:loader_images]
        step = per_image(tool, c)
        t0 = time.perf_counter()
        step(ids[0])
        t1 = time.perf_counter()
        for i in ids[1:]:
            step(i)
        t2 = time.perf_counter()
        lo.update(images=len(ids), first_seconds=t1 - t0, seconds=t2 - t0,
                  rate=len(ids) / (t2 - t0), rate_after_first=(len(ids) - 1) / max(t2 - t1, 1e-9),
                  peak_rss=rss_peak(), rss_after=rss_now())
        save()
        lo["digest"], lo["content_digest"] = mask_digests(tool, step, ids[:DIGEST_IMAGES])
    except Exception as e:
        lo["error"] = f"{type(e).__name__}: {str(e)[:200]}"
    save()


# ---------------------------------------------------------------------------------------------
# Parent.


def mem_available() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024.0
    return float("inf")


def dataset(label: str, seed: int) -> tuple[Path, dict]:
    """The generated file for a size label (made once), and what it holds."""
    sys.path.insert(0, str(HERE))
    import gen_coco

    path = OUT / f"coco_{label}.json"
    meta_path = path.with_name(path.name + ".meta.json")
    if path.exists() and not meta_path.exists():
        # Not made by this script (no sidecar): use it as it is, never overwrite it.
        print(f"using {path.name} as it is (no {meta_path.name})", file=sys.stderr)
        return path, {"bytes": path.stat().st_size}
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if not path.exists() or meta.get("version") != gen_coco.VERSION or meta.get("seed") != seed:
        n = gen_coco.images_for_size(gen_coco.parse_size(label), seed)
        print(f"generating {path.name}: {n} images ...", file=sys.stderr)
        t0 = time.perf_counter()
        stats = gen_coco.generate(path, n, seed)
        print(f"  {stats['bytes'] / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        meta_path.write_text(json.dumps(stats))
    meta = json.loads(meta_path.read_text())
    meta["bytes"] = path.stat().st_size
    return path, meta


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_child(python: str, tool: str, path: Path, loader_images: int, timeout: float) -> dict:
    fd, result_path = tempfile.mkstemp(prefix="bench_load_", suffix=".json")
    os.close(fd)
    try:
        cmd = [python, str(Path(__file__).resolve()), "--child", tool, "--path", str(path),
               "--loader-images", str(loader_images), "--result", result_path]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            res = read_result(result_path)
            res["status"] = f"timeout ({timeout:g} s)"
            return res
        res = read_result(result_path)
        if proc.returncode != 0:
            why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else \
                f"exit {proc.returncode}"
            print(f"{tool}: failed ({why})\n{proc.stderr[-2000:]}", file=sys.stderr)
            res["status"] = f"failed ({why})"
            if "loader" in res and "rate" not in res["loader"]:
                res["loader"]["error"] = res["status"]
        return res
    finally:
        os.unlink(result_path)


def read_result(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated, e.g. 50MB,476MB")
    ap.add_argument("--tools", default=",".join(dict.fromkeys(TOOLS + LOADER_TOOLS)))
    ap.add_argument("--python", default=sys.executable, help="interpreter for the children")
    ap.add_argument("--python-for", action="append", default=[], metavar="TOOL=PYTHON",
                    help="interpreter for one tool (repeatable)")
    ap.add_argument("--loader-images", type=int, default=2000, help="0: no data-loader part")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per child")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5,
                    help="constructor runs in all for tools under --repeat-under (median shown)")
    ap.add_argument("--repeat-under", type=float, default=5.0,
                    help="seconds of a first constructor run below which the tool is repeated")
    ap.add_argument("--update", action="store_true",
                    help="keep benches/out/load.json's other rows; replace those of --tools")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.path, args.loader_images, args.result)
        return

    python_for = dict(s.split("=", 1) for s in args.python_for)
    tools = [t for t in args.tools.split(",") if t]
    sizes = [s for s in args.sizes.split(",") if s]
    OUT.mkdir(exist_ok=True)
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPUs, {mem_available() / 1e9:.1f} GB available, "
                   f"{platform.platform()}",
        "loader_images": args.loader_images,
        "sizes": {}, "load": {}, "loader": {},
    }
    if args.update and (OUT / "load.json").exists():
        old = json.loads((OUT / "load.json").read_text())
        for key in ("sizes", "load", "loader"):
            results[key] = old.get(key, {})
        results["updated"] = f"rows {', '.join(tools)} on {results['date']}; the others on {old.get('date')}"
        results["date"] = old.get("date", results["date"])
    for label in sizes:
        path, meta = dataset(label, args.seed)
        results["sizes"][label] = meta
        warm(path)
        for tool in tools:
            python = python_for.get(tool, args.python)
            loader_n = args.loader_images if tool in LOADER_TOOLS else 0
            need = MEM_FACTOR.get(tool, 7.0) * meta["bytes"] + MEM_BASE
            avail = mem_available()
            if need > 0.9 * avail:
                res = {"status": "skipped (memory)",
                       "estimate": f"{need / 1e9:.1f} GB of {avail / 1e9:.1f} GB available"}
                if loader_n:
                    res["loader"] = {"error": "skipped (memory)"}
            else:
                print(f"[{label}] {tool} ...", file=sys.stderr, flush=True)
                res = run_child(python, tool, path, loader_n, args.timeout)
            res["python"] = python
            loader = res.pop("loader", None)
            if tool != FAST:
                results["load"].setdefault(tool, {})[label] = res
            if loader is not None:
                results["loader"].setdefault(tool, {})[label] = loader
            print(f"[{label}] {tool}: {brief(res, loader)}", file=sys.stderr, flush=True)
        # More constructor-only runs of the quick tools, alternating, so that a drift in the
        # machine's speed lands on all of them alike; each cell becomes its median run.
        quick = [t for t in tools if t != FAST and "seconds" in results["load"][t].get(label, {})
                 and results["load"][t][label]["seconds"] < args.repeat_under]
        runs = {t: [results["load"][t][label]] for t in quick}
        for _ in range(args.repeat - 1):
            for tool in quick:
                r = run_child(python_for.get(tool, args.python), tool, path, 0, args.timeout)
                if "seconds" in r:
                    runs[tool].append(r)
        for tool in quick:
            results["load"][tool][label] = median_run(runs[tool])
            print(f"[{label}] {tool}: median of {len(runs[tool])}: "
                  f"{brief(results['load'][tool][label], None)}", file=sys.stderr, flush=True)
    (OUT / "load.json").write_text(json.dumps(results, indent=1))
    table = markdown(results)
    (OUT / "load.md").write_text(table)
    print(table)
    chart(results, OUT / "load.png")


def median_run(rs: list) -> dict:
    """The run of median wall time (the upper one of an even count), keeping the first run's
    extra fields, with every run's seconds for the range."""
    ordered = sorted(rs, key=lambda r: r["seconds"])
    med = dict(ordered[len(ordered) // 2])
    med["runs"] = [r["seconds"] for r in rs]
    return med


def brief(res: dict, loader: dict | None) -> str:
    s = load_cell(res, None)
    if loader is not None:
        s += " | loader: " + loader_cell(loader, None)
    return s


def mb(b: float) -> str:
    return f"{b / 1e6:,.0f} MB"


def load_cell(r: dict, base: dict | None) -> str:
    if "seconds" not in r:
        return r.get("status") or ("n/a" if "error" in r else "failed")
    cell = f"{r['seconds']:.2f} s"
    if base and "seconds" in base and r is not base:
        cell += f" ({base['seconds'] / r['seconds']:.1f}x)"
    if len(r.get("runs", ())) > 1:
        cell += f" [{min(r['runs']):.2f}-{max(r['runs']):.2f}]"
    cell += f" / {mb(r['peak_rss'])} ({mb(r['rss_after'])} after)"
    if r.get("status"):
        cell += f" [{r['status']}]"
    return cell


def loader_cell(r: dict, base: dict | None, tool_name: str = "") -> str:
    if "rate" not in r:
        err = r.get("error", "n/a")
        return err if err.startswith(("skipped", "failed", "timeout")) else "n/a"
    cell = f"{r['rate']:,.0f} img/s"
    if base and "rate" in base and r is not base:
        cell += f" ({r['rate'] / base['rate']:.1f}x)"
    cell += f" (first {r['first_seconds'] * 1e3:,.0f} ms; peak {mb(r['peak_rss'])})"
    if base and base.get("digest") and r is not base:
        if r.get("content_digest") != base.get("content_digest"):
            cell += " ≠"
        elif r.get("digest") != base.get("digest") and tool_name != FAST:
            cell += " ≠ order"
    return cell


def markdown(results: dict) -> str:
    sizes = list(results["sizes"])
    head = []
    for s in sizes:
        m = results["sizes"][s]
        head.append(f"{m['bytes'] / 1e6:,.0f} MB" + (
            f": {m['images']:,} images, {m['annotations']:,} anns" if "images" in m else ""))
    lines = ["Loading: constructor wall time (speed-up vs pycocotools) / peak RSS (RSS right "
             "after the constructor)", "",
             "| tool | " + " | ".join(head) + " |", "|---|" + "---|" * len(sizes)]
    ref = results["load"].get("pycocotools", {})
    for tool in [t for t in TOOLS if t in results["load"]] + \
            [t for t in results["load"] if t not in TOOLS]:
        row = results["load"][tool]
        cells = [load_cell(row.get(s, {}), ref.get(s)) for s in sizes]
        lines.append(f"| {name(tool, row)} | " + " | ".join(cells) + " |")
    if results["loader"]:
        lines += ["", f"Data-loader pattern, first {results['loader_images']} images: "
                  "getAnnIds + loadAnns + annToMask per image (images/s, speed-up vs "
                  "pycocotools; time of the first image; peak RSS at the end)", "",
                  "| tool | " + " | ".join(head) + " |", "|---|" + "---|" * len(sizes)]
        ref = results["loader"].get("pycocotools", {})
        for tool in [t for t in LOADER_TOOLS if t in results["loader"]]:
            row = results["loader"][tool]
            cells = [loader_cell(row.get(s, {}), ref.get(s), tool) for s in sizes]
            vrow = results["load"].get(tool, {}) if tool != FAST else \
                results["load"].get("cocors", {})
            lines.append(f"| {name(tool, vrow)} | " + " | ".join(cells) + " |")
        lines += ["", f"≠: the masks of the first {DIGEST_IMAGES} images differ from "
                  "pycocotools'; ≠ order: same masks, but getAnnIds gives the annotations in "
                  "another order (pycocotools: file order)."]
    lines += ["", f"{results['date']}, {results['machine']}; each tool in its own process. "
              "[a-b]: the range of the constructor's wall time over the runs of a quick tool "
              "(fresh processes, alternating); its cell is the median run. Slow tools: one run."
              + (f" Updated: {results['updated']}." if results.get("updated") else "")]
    return "\n".join(lines) + "\n"


def name(tool: str, row: dict) -> str:
    label = LABEL.get(tool, tool)
    for r in row.values():
        if r.get("version") and tool not in ("json.load", "file read"):
            return f"{label} {r['version']}"
    return label


def chart(results: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)
        return
    sizes = list(results["sizes"])
    load_tools = [t for t in TOOLS if t in results["load"]]
    loader_tools = [t for t in LOADER_TOOLS if t in results["loader"]]
    panels = [("load time (s, log)", "load", load_tools, "seconds"),
              ("peak RSS (MB, log)", "load", load_tools, "peak_rss")]
    if loader_tools and any("rate" in r for t in loader_tools
                            for r in results["loader"][t].values()):
        panels.append((f"data loader, first {results['loader_images']} images (images/s, log)",
                       "loader", loader_tools, "rate"))
    colors = {t: f"C{i}" for i, t in enumerate(dict.fromkeys(TOOLS + LOADER_TOOLS))}
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5))
    for ax, (title, part, tools, key) in zip(np.atleast_1d(axes), panels):
        width = 0.8 / max(len(tools), 1)
        for i, t in enumerate(tools):
            ys = []
            for s in sizes:
                v = results[part][t].get(s, {}).get(key)
                ys.append(np.nan if v is None else v / 1e6 if key == "peak_rss" else v)
            ax.bar(np.arange(len(sizes)) + i * width, ys, width, label=LABEL.get(t, t),
                   color=colors[t])
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 6)  # room for the legend
        ax.set_title(title, fontsize=10)
        ax.set_xticks(np.arange(len(sizes)) + width * (len(tools) - 1) / 2)
        ax.set_xticklabels([f"{results['sizes'][s]['bytes'] / 1e6:,.0f} MB" for s in sizes])
        ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.suptitle(f"COCO loading, {results['machine'].split(',')[0]}, one run "
                 "(benches/bench_load.py)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
