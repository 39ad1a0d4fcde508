"""COCOeval benchmark: cocors against pycocotools 2.0.11 and its peers, side by side.

    python benches/bench_eval.py                    # val2017-like rows (1x and 10x detections)
    python benches/bench_eval.py --o365             # plus the Objects365-like bbox row
    python benches/bench_eval.py --python-for cocors=.venv/bin/python --timeout 900

Data from benches/gen_eval.py (written once into benches/out/eval and reused). Each tool runs
each row in its own process: it loads the ground truth and the results with its own COCO and
loadRes (timed apart: tools split the work between loading and evaluating differently), then
``evaluate(); accumulate(); summarize()`` is timed (wall). Tools quick enough (first run
under --repeat-under seconds) run --repeat times (default 5), alternating, and show their
median run; the slow ones run once. Peak RSS is
the process's own (VmHWM, loading included). ``stats`` is compared with pycocotools' from the
same run: "=" exact, "≠" different (the largest difference is shown), "n/a" where the tool has
no such iouType. Keypoint rows evaluate the person category (catIds=[1]) for every tool.

Tools: cocors, pycocotools, faster-coco-eval (COCOeval_faster), hotcoco, ultrafast-pycocotools,
vernier (its pycocotools-style COCOeval on pycocotools' COCO objects). A tool that is not
installed is n/a; one that runs past --timeout is "timeout"; one that fails shows the error.
Writes benches/out/eval.{md,json,png}.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = OUT / "eval"
TOOLS = ["cocors", "pycocotools", "faster-coco-eval", "hotcoco", "ultrafast-pycocotools", "vernier"]
ROWS = [
    ("bbox", "gt_val.json", "dt_bbox_1x.json", "bbox, 5k images, 37k detections"),
    ("segm", "gt_val.json", "dt_segm_1x.json", "segm, 5k images, 37k detections"),
    ("keypoints", "gt_val.json", "dt_keypoints_1x.json", "keypoints, 5k images, 13k detections"),
    ("bbox", "gt_val.json", "dt_bbox_10x.json", "bbox, 5k images, 366k detections (10x)"),
    ("segm", "gt_val.json", "dt_segm_10x.json", "segm, 5k images, 366k detections (10x)"),
    ("keypoints", "gt_val.json", "dt_keypoints_10x.json", "keypoints, 5k images, 132k detections (10x)"),
]
O365 = ("bbox", "gt_o365.json", "dt_o365.json", "bbox, Objects365-like: 80k images, 365 categories, 1.2M detections")


# ---------------------------------------------------------------------------------------------
# Child: one tool, one row.


def _classes(tool: str):
    """(COCO class, COCOeval class) of a tool."""
    if tool == "cocors":
        import cocors

        return cocors.COCO, cocors.COCOeval
    if tool == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    if tool == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        return COCO, COCOeval_faster
    if tool == "hotcoco":
        import hotcoco

        return hotcoco.COCO, hotcoco.COCOeval
    if tool == "ultrafast-pycocotools":
        from ultrafast_pycocotools import COCO, COCOeval

        return COCO, COCOeval
    if tool == "vernier":
        from pycocotools.coco import COCO
        from vernier import COCOeval

        return COCO, COCOeval
    raise ValueError(tool)


def child(tool: str, iou_type: str, gt: str, dt: str) -> None:
    try:
        COCO, COCOeval = _classes(tool)
    except ImportError as e:
        print(json.dumps({"status": "n/a", "error": str(e)}))
        return
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        t_load = time.perf_counter()
        g = COCO(gt)
        d = g.loadRes(dt)
        load = time.perf_counter() - t_load
        E = COCOeval(g, d, iou_type)
        if iou_type == "keypoints":
            E.params.catIds = [1]
        t0 = time.perf_counter()
        E.evaluate()
        E.accumulate()
        E.summarize()
        wall = time.perf_counter() - t0
    stats = [float(s) for s in E.stats]
    # VmHWM: ru_maxrss would keep the parent's peak across fork + exec (it holds the data).
    from bench_load import rss_peak

    peak = rss_peak()
    print(json.dumps({"status": "ok", "wall": wall, "load": load, "peak": peak, "stats": stats}))


# ---------------------------------------------------------------------------------------------
# Parent.


def run_one(python: str, tool: str, row, timeout: float) -> dict:
    iou_type, gt, dt, _ = row
    cmd = [python, __file__, "--child", tool, iou_type, str(DATA / gt), str(DATA / dt)]
    try:
        # Each tool as installed in its interpreter (cocors: build it into that environment).
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        err = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        return {"status": "error", "error": err[:200]}
    return json.loads(lines[-1])


def median_run(rs: list) -> dict:
    """The run of median wall time (the upper one of an even count), with every run's wall
    time; the first run where any run failed. ``stable`` says whether every run's stats
    were the same."""
    if any(r["status"] != "ok" for r in rs):
        return next(r for r in rs if r["status"] != "ok")
    med = sorted(rs, key=lambda r: r["wall"])[len(rs) // 2]
    return dict(med, walls=[r["wall"] for r in rs], stable=all(r["stats"] == rs[0]["stats"] for r in rs))


def versions(python: str) -> dict:
    code = ("import json, importlib.metadata as m\n"
            "out = {}\n"
            "for d in ['pycocotools', 'faster-coco-eval', 'hotcoco', 'ultrafast-pycocotools', 'vernier', 'numpy']:\n"
            "    try: out[d] = m.version(d)\n"
            "    except Exception: out[d] = None\n"
            "print(json.dumps(out))")
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True).stdout)


def cell(r: dict, ref: dict) -> str:
    if r["status"] != "ok":
        return r["status"] if r["status"] != "error" else "error: " + r.get("error", "")[:60]
    s = f"{r['wall']:.3f} s (load {r['load']:.2f} s), {r['peak'] / 1e6:,.0f} MB"
    if not r.get("stable", True):
        s += " (stats differ between runs)"
    if ref.get("status") == "ok":
        diff = max(abs(a - b) for a, b in zip(r["stats"], ref["stats"])) if len(r["stats"]) == len(ref["stats"]) else float("inf")
        s += " =" if r["stats"] == ref["stats"] else f" ≠ ({diff:.1e})"
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", nargs=4, metavar=("TOOL", "IOU", "GT", "DT"))
    ap.add_argument("--o365", action="store_true")
    ap.add_argument("--redraw", action="store_true", help="only redraw the chart from benches/out/eval.json")
    ap.add_argument("--python", default=sys.executable, help="interpreter with the peers installed")
    ap.add_argument("--python-for", action="append", default=[], help="TOOL=PYTHON")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--rows", default=None, help="comma-separated row numbers (0-based)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs per tool and row, alternating, for tools under --repeat-under; the median is shown")
    ap.add_argument("--repeat-under", type=float, default=5.0,
                    help="seconds (load + evaluation of the first run) below which a tool is run --repeat times")
    a = ap.parse_args()
    if a.redraw:
        redraw()
        return
    if a.child:
        child(*a.child)
        return
    sys.path.insert(0, str(HERE))
    import gen_eval

    gen_eval.generate(DATA, o365=a.o365)
    rows = ROWS + ([O365] if a.o365 else [])
    if a.rows:
        rows = [rows[int(i)] for i in a.rows.split(",")]
    tools = a.tools.split(",")
    py = {t: a.python for t in tools}
    for spec in a.python_for:
        t, p = spec.split("=", 1)
        py[t] = p
    results = {}
    for row in rows:
        results[row[3]] = {}
        order = [t for t in ["pycocotools"] + [t for t in tools if t != "pycocotools"] if t in tools]
        runs = {}
        for tool in order:
            runs[tool] = [run_one(py[tool], tool, row, a.timeout)]
        # More runs, the tools alternating, for those quick enough: this machine's speed moves
        # by tens of percent from one second to the next, and one run of a 30 ms evaluation
        # is a draw. Each tool's cell is then its median run.
        for _ in range(a.repeat - 1):
            for tool in order:
                first = runs[tool][0]
                if first["status"] == "ok" and first["wall"] + first["load"] < a.repeat_under:
                    runs[tool].append(run_one(py[tool], tool, row, a.timeout))
        for tool in order:
            results[row[3]][tool] = r = median_run(runs[tool])
            print(f"{row[3]:<70} {tool:<22} {cell(r, results[row[3]].get('pycocotools', {}))}"
                  + (f"  runs {' '.join(f'{w:.3f}' for w in r['walls'])}" if len(r.get("walls", [])) > 1 else ""),
                  flush=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "versions": versions(a.python)}
    OUT.mkdir(exist_ok=True)
    if a.rows and (OUT / "eval.json").exists():
        # A run of some rows updates those rows of the last full run (the table and chart
        # then show every row; each row's cells still come from one invocation).
        earlier = json.loads((OUT / "eval.json").read_text())["results"]
        for key, res in earlier.items():
            results.setdefault(key, res)
        rows, tools = rows_and_tools(results)
    (OUT / "eval.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = ["| data | " + " | ".join(tools) + " |", "|---|" + "---|" * len(tools)]
    for row in rows:
        res = results[row[3]]
        ref = res.get("pycocotools", {})
        lines.append(f"| {row[3]} | " + " | ".join(cell(res[t], ref) if t in res else "not run"
                                                   for t in tools) + " |")
    note = ("\nWall time of evaluate + accumulate + summarize (in brackets: COCO(gt) + loadRes(dt), "
            "where tools do different shares of the work) and the process's peak RSS (loading "
            "included), of the median run: a tool whose first run took under "
            f"{a.repeat_under:g} s ran {a.repeat} times, alternating with the others, each in a fresh "
            "process (the others once); = means stats identical to pycocotools' in this run, ≠ shows "
            f"the largest difference. {meta['date']}, {meta['cpus']} CPUs, versions {meta['versions']}.\n")
    (OUT / "eval.md").write_text("\n".join(lines) + "\n" + note)
    print("\n".join(lines) + "\n" + note)
    chart(results, rows, tools)


def chart(results: dict, rows: list, tools: list) -> None:
    """benches/out/eval.png: wall time per row and tool (log scale)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(tools)
    for j, t in enumerate(tools):
        vals = [results[r[3]][t]["wall"] if results[r[3]].get(t, {}).get("status") == "ok" else np.nan
                for r in rows]
        ax.bar(np.arange(len(rows)) + j * width, vals, width, label=t)
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log), lower is better")
    ax.set_xticks(np.arange(len(rows)) + 0.4 - width / 2)
    # Short labels: iouType and data set (1x, 10x, O365).
    short = ["{}\n{}".format(r[0], "O365" if "o365" in r[2] else r[2].rsplit("_", 1)[-1].split(".")[0])
             for r in rows]
    ax.set_xticklabels(short, fontsize=9)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("COCOeval: evaluate + accumulate + summarize, median run (benches/bench_eval.py)")
    fig.tight_layout()
    fig.savefig(OUT / "eval.png", dpi=110)


def redraw() -> None:
    """The chart again from benches/out/eval.json, without running anything."""
    results = json.loads((OUT / "eval.json").read_text())["results"]
    chart(results, *rows_and_tools(results))


def rows_and_tools(results: dict) -> tuple:
    """The rows present in `results`, in table order, and the tools run on any of them."""
    rows = [r for r in ROWS + [O365] if r[3] in results]
    tools = [t for t in TOOLS if any(t in results[r[3]] for r in rows)]
    return rows, tools


if __name__ == "__main__":
    main()
