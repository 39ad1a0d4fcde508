"""Deterministic evaluation data for bench_eval.py: a ground truth and detection results.

    python benches/gen_eval.py OUTDIR            # val2017-like: 5,000 images
    python benches/gen_eval.py OUTDIR --o365     # also the Objects365-like bbox set

Writes, in OUTDIR:

- ``gt_val.json``: gen_coco's COCO-train-like ground truth with 5,000 images (~36k annotations,
  polygons, 1% crowd RLEs; person annotations carry 17 keypoints and num_keypoints);
- ``dt_{bbox,segm,keypoints}_{1x,10x}.json``: results on it. 1x has ~37k detections: for 80% of
  the non-crowd ground truth a detection whose box is the gt box jittered (N(0, 0.1 size)),
  its category kept (5% swapped), score ~ Beta(4, 2); plus ~1.5 false positives per image with
  random boxes and scores ~ Beta(1, 4). 10x makes 10 jittered copies of each. Segm results are
  compressed RLEs of the gt polygons moved with the box; keypoint results are the gt person
  keypoints jittered by N(0, 0.05 sqrt(area)), all visible, plus false positives;
- with ``--o365``: ``gt_o365.json`` (80,000 images, 365 categories, ~12 boxes per image) and
  ``dt_o365.json`` (~1.2M bbox results, same recipe as above).

Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent / "python"))  # an installed cocors (with its native module) wins

VERSION = 1


def _fl(v: float) -> float:
    return round(float(v), 2)


def _det_boxes(rng, gt_boxes, copies):
    """Jittered copies of gt boxes (n*copies x 4), clipped to a positive size."""
    b = np.repeat(gt_boxes, copies, axis=0)
    size = np.stack([b[:, 2], b[:, 3], b[:, 2], b[:, 3]], axis=1)
    j = b + rng.normal(0, 0.1, b.shape) * np.maximum(size, 1.0)
    j[:, 2:] = np.maximum(j[:, 2:], 1.0)
    return j


def detections(gt: dict, copies: int, seed: int, kind: str) -> list:
    """Results for ``gt`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    imgs = {im["id"]: im for im in gt["images"]}
    cats = np.array([c["id"] for c in gt["categories"]])
    out = []
    anns = [a for a in gt["annotations"] if not a["iscrowd"]]
    if kind == "keypoints":
        anns = [a for a in anns if a.get("num_keypoints", 0) > 0]
    keep = rng.random(len(anns)) < 0.8
    anns = [a for a, k in zip(anns, keep) if k]
    boxes = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    jit = _det_boxes(rng, boxes, copies)
    scores = rng.beta(4, 2, len(jit))
    swap = rng.random(len(jit)) < 0.05
    other = cats[rng.integers(0, len(cats), len(jit))]
    if kind == "segm":
        from cocors import mask as M
    for n, (a, b, s, sw, oc) in enumerate(zip(np.repeat(anns, copies), jit, scores, swap, other)):
        cat = int(oc) if sw and kind != "keypoints" else a["category_id"]
        det = {"image_id": a["image_id"], "category_id": cat, "score": _fl(s * 1000) / 1000}
        if kind == "bbox":
            det["bbox"] = [_fl(v) for v in b]
        elif kind == "segm":
            im = imgs[a["image_id"]]
            dx, dy = b[0] - a["bbox"][0], b[1] - a["bbox"][1]
            seg = a["segmentation"]
            if isinstance(seg, list):
                polys = [[v + (dx if i % 2 == 0 else dy) for i, v in enumerate(p)] for p in seg]
                rle = M.merge(M.frPyObjects(polys, im["height"], im["width"]))
            else:
                rle = M.frPyObjects([[b[0], b[1], b[0], b[1] + b[3], b[0] + b[2], b[1] + b[3], b[0] + b[2], b[1]]], im["height"], im["width"])[0]
            det["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        else:
            kp = np.array(a["keypoints"], dtype=np.float64).reshape(-1, 3)
            sd = 0.05 * np.sqrt(max(a["area"], 1.0))
            xy = kp[:, :2] + rng.normal(0, sd, (len(kp), 2))
            det["keypoints"] = [v for x, y in xy for v in (_fl(x), _fl(y), 1)]
        out.append(det)
    # False positives.
    ids = sorted(imgs)
    n_fp = rng.poisson(1.5 * copies, len(ids))
    for img_id, k in zip(ids, n_fp):
        im = imgs[img_id]
        for _ in range(int(k)):
            w, h = rng.uniform(4, im["width"] / 2), rng.uniform(4, im["height"] / 2)
            x, y = rng.uniform(0, im["width"] - w), rng.uniform(0, im["height"] - h)
            cat = 1 if kind == "keypoints" else int(cats[rng.integers(0, len(cats))])
            det = {"image_id": img_id, "category_id": cat, "score": _fl(rng.beta(1, 4) * 1000) / 1000}
            if kind == "bbox":
                det["bbox"] = [_fl(x), _fl(y), _fl(w), _fl(h)]
            elif kind == "segm":
                rle = M.frPyObjects([[x, y, x, y + h, x + w, y + h, x + w, y]], im["height"], im["width"])[0]
                det["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            else:
                pts = rng.uniform([x, y], [x + w, y + h], (17, 2))
                det["keypoints"] = [v for px, py in pts for v in (_fl(px), _fl(py), 1)]
            out.append(det)
    return out


def o365_gt(seed: int, images: int = 80_000, cats: int = 365) -> dict:
    """An Objects365-like bbox ground truth: many small boxes, a long-tailed category mix."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, cats + 1) ** 0.9
    p /= p.sum()
    ims, anns = [], []
    aid = 1
    for i in range(images):
        w, h = int(rng.choice([640, 800, 1024])), int(rng.choice([480, 600, 768]))
        ims.append({"id": i + 1, "width": w, "height": h, "file_name": f"{i + 1:08d}.jpg"})
        n = int(rng.poisson(12))
        bw = np.minimum(np.exp(rng.normal(3.5, 1.0, n)), w - 1)
        bh = np.minimum(np.exp(rng.normal(3.5, 1.0, n)), h - 1)
        bx, by = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        cs = rng.choice(cats, size=n, p=p) + 1
        crowd = rng.random(n) < 0.01
        for j in range(n):
            b = [_fl(bx[j]), _fl(by[j]), _fl(bw[j]), _fl(bh[j])]
            anns.append({"id": aid, "image_id": i + 1, "category_id": int(cs[j]), "bbox": b,
                         "area": _fl(b[2] * b[3]), "iscrowd": int(crowd[j])})
            aid += 1
    return {"images": ims, "annotations": anns,
            "categories": [{"id": c + 1, "name": f"c{c + 1}"} for c in range(cats)]}


def _dump(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    tmp.replace(path)


def generate(out: Path, o365: bool = False, seed: int = 0) -> None:
    import gen_coco

    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "eval_data.meta.json"
    meta = {"version": VERSION, "gen_coco": gen_coco.VERSION, "seed": seed}
    have = json.loads(stamp.read_text()) if stamp.exists() else {}
    fresh = {k: have.get(k) for k in meta} == meta
    gt_path = out / "gt_val.json"
    if not (fresh and gt_path.exists()):
        gen_coco.generate(gt_path, images=5000, seed=seed)
    with open(gt_path) as f:
        gt = json.load(f)
    for kind in ("bbox", "segm", "keypoints"):
        for copies in (1, 10):
            p = out / f"dt_{kind}_{copies}x.json"
            if not (fresh and p.exists()):
                _dump(detections(gt, copies, seed + copies, kind), p)
    if o365:
        g, d = out / "gt_o365.json", out / "dt_o365.json"
        if not (fresh and g.exists() and d.exists() and have.get("o365")):
            gt365 = o365_gt(seed)
            _dump(gt365, g)
            dets = detections(gt365, 1, seed + 365, "bbox")
            _dump(dets, d)
        meta["o365"] = True
    stamp.write_text(json.dumps(meta))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--o365", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    generate(Path(a.out), a.o365, a.seed)


if __name__ == "__main__":
    main()
