"""Deterministic synthetic COCO instances file, shaped like instances_train2017.json.

    python benches/gen_coco.py OUT.json --size 50MB      # about 50 MB (picks the number of images)
    python benches/gen_coco.py OUT.json --images 5000    # exactly 5000 images
    python benches/gen_coco.py OUT.json --size 1.5GB --seed 3

    from gen_coco import generate; generate("out.json", images=5000, seed=0)

Same arguments, same bytes. The file is streamed (a block of images at a time), never held whole.
What it looks like, per COCO train2017:

- compact JSON (no spaces), top-level keys info, licenses, images, annotations, categories, and
  each record's keys in COCO's order;
- images: sparse ids listed in random order, sizes around 480x640, file_name/coco_url/flickr_url/
  date_captured/license;
- about 7.3 annotations per image (1% of images have none, a long tail up to 100);
- polygons: 1-3 star-shaped rings of 8-60 vertices (mean ~21), 2-decimal coordinates, mostly
  inside the image; area is the shoelace area (a float with many decimals, like COCO's); bbox of
  4 2-decimal floats;
- 80 categories with COCO's ids (1..90 with its gaps), names and supercategories; person (id 1,
  ~30% of annotations) carries COCO's 17 keypoint names and skeleton, and every person
  annotation has num_keypoints and 51 keypoint ints;
- ~1% iscrowd=1 annotations with an uncompressed RLE {"counts": [...], "size": [h, w]} whose
  counts sum to h*w, with 12-digit ids (900100000000+, as COCO's crowd ids, above 2**32);
- ~0.5% annotations (iscrowd 0) whose segmentation is a compressed RLE
  {"size": [h, w], "counts": "..."}; every one of these counts strings contains a backslash,
  JSON-escaped as \\\\ (made with cocors' pure-Python reference codec);
- annotations are written in an order unrelated to the images array: images are visited in a
  random order and annotations are shuffled within blocks of 1024 images, so one image's
  annotations are scattered; annotation ids increase along the file with random gaps (as in
  COCO train, where ids are not sorted by image).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "python" / "cocors" / "testing" / "reference.py"

VERSION = 1  # bump when the output changes (bench_load.py then regenerates its files)
BLOCK = 1024  # images per block (annotations are shuffled within a block)

CATEGORIES = [
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"), (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"), (15, "bench", "outdoor"), (16, "bird", "animal"),
    (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"), (20, "sheep", "animal"),
    (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
    (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
    (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
    (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
    (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
    (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
]
assert len(CATEGORIES) == 80
assert {c[0] for c in CATEGORIES} == set(range(1, 91)) - {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}

KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]
SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
    [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]

INFO = {
    "description": "Synthetic COCO-train-like dataset (cocors benches/gen_coco.py)",
    "url": "http://cocodataset.org", "version": "1.0", "year": 2017,
    "contributor": "cocors", "date_created": "2017/09/01",
}
LICENSES = [
    ("http://creativecommons.org/licenses/by-nc-sa/2.0/", "Attribution-NonCommercial-ShareAlike License"),
    ("http://creativecommons.org/licenses/by-nc/2.0/", "Attribution-NonCommercial License"),
    ("http://creativecommons.org/licenses/by-nc-nd/2.0/", "Attribution-NonCommercial-NoDerivs License"),
    ("http://creativecommons.org/licenses/by/2.0/", "Attribution License"),
    ("http://creativecommons.org/licenses/by-sa/2.0/", "Attribution-ShareAlike License"),
    ("http://creativecommons.org/licenses/by-nd/2.0/", "Attribution-NoDerivs License"),
    ("http://flickr.com/commons/usage/", "No known copyright restrictions"),
    ("http://www.usa.gov/copyright.shtml", "United States Government Work"),
]

# Category frequencies: person ~30%, the other 79 a fixed Zipf-like tail (independent of the seed).
_W = 1.0 / np.arange(2, 81) ** 0.9
CAT_P = np.concatenate([[0.30], 0.70 * _W / _W.sum()])
CAT_IDS = np.array([c[0] for c in CATEGORIES])

_codec = None


def counts_to_string(counts: list[int]) -> str:
    """COCO's compressed counts string, via cocors' pure-Python reference codec (loaded from its
    file: importing the cocors package would need the native module)."""
    global _codec
    if _codec is None:
        spec = importlib.util.spec_from_file_location("_cocors_reference", REFERENCE)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _codec = mod.counts_to_string
    return _codec(counts).decode("ascii")


def _header() -> str:
    lic = ",".join(json.dumps({"url": u, "id": i + 1, "name": n}, separators=(",", ":"))
                   for i, (u, n) in enumerate(LICENSES))
    return '{"info":%s,"licenses":[%s],"images":[' % (json.dumps(INFO, separators=(",", ":")), lic)


def _footer() -> str:
    cats = []
    for cid, name, sup in CATEGORIES:
        c = {"supercategory": sup, "id": cid, "name": name}
        if cid == 1:
            c["keypoints"] = KEYPOINTS
            c["skeleton"] = SKELETON
        cats.append(json.dumps(c, separators=(",", ":")))
    return '],"categories":[' + ",".join(cats) + "]}"


def _images(rng: np.random.Generator, n: int):
    """Image table: ids (sparse, random order), heights, widths, and the JSON records."""
    ids = rng.choice(np.arange(1, 5 * n + 100), size=n, replace=False)
    kind = rng.random(n)
    other_h = rng.integers(240, 641, n)
    other_w = rng.integers(320, 641, n)
    h = np.where(kind < 0.55, 480, np.where(kind < 0.75, 640, np.where(kind < 0.85, 427, other_h)))
    w = np.where(kind < 0.55, 640, np.where(kind < 0.75, 480, np.where(kind < 0.85, 640, other_w)))
    lic = rng.integers(1, 9, n)
    day, hh, mm, ss = (rng.integers(1, 29, n), rng.integers(0, 24, n),
                       rng.integers(0, 60, n), rng.integers(0, 60, n))
    farm, server = rng.integers(1, 10, n), rng.integers(1000, 9999, n)
    photo, secret = rng.integers(10**9, 10**10, n), rng.integers(0, 16**10, n)
    return ids, h, w, (lic, day, hh, mm, ss, farm, server, photo, secret)


def _image_records(ids, h, w, extra, lo: int, hi: int) -> str:
    lic, day, hh, mm, ss, farm, server, photo, secret = (a[lo:hi].tolist() for a in extra)
    out = []
    for k, (i, y, x) in enumerate(zip(ids[lo:hi].tolist(), h[lo:hi].tolist(), w[lo:hi].tolist())):
        out.append(
            '{"license":%d,"file_name":"%012d.jpg","coco_url":"http://images.cocodataset.org/'
            'train2017/%012d.jpg","height":%d,"width":%d,"date_captured":"2013-11-%02d '
            '%02d:%02d:%02d","flickr_url":"http://farm%d.staticflickr.com/%d/%d_%010x_z.jpg",'
            '"id":%d}'
            % (lic[k], i, i, y, x, day[k], hh[k], mm[k], ss[k], farm[k], server[k], photo[k],
               secret[k], i))
    return ",".join(out)


def _blob(rng: np.random.Generator, h: int, w: int, max_cols: int):
    """A mask with one run of 1s per column over a range of columns: its runs (column-major,
    starting with 0s, no empty run, summing to h*w), area and bbox."""
    nc = int(rng.integers(min(8, w), min(w, max_cols) + 1))
    x0 = int(rng.integers(0, w - nc + 1))
    cy = rng.uniform(0.2 * h, 0.8 * h)
    half = rng.uniform(0.05 * h, 0.4 * h)
    wob = np.cumsum(rng.normal(0, 2.0, (2, nc)), axis=1)
    top = np.clip(np.rint(cy - half + wob[0]), 1, h - 2).astype(np.int64)
    bot = np.clip(np.rint(cy + half + wob[1]), top + 1, h - 1).astype(np.int64)
    ones = bot - top
    zeros = np.empty(nc + 1, dtype=np.int64)
    zeros[0] = x0 * h + top[0]
    zeros[1:-1] = (h - bot[:-1]) + top[1:]
    zeros[-1] = (h - bot[-1]) + (w - x0 - nc) * h
    counts = np.empty(2 * nc + 1, dtype=np.int64)
    counts[0::2] = zeros
    counts[1::2] = ones
    bbox = [float(x0), float(top.min()), float(nc), float(bot.max() - top.min())]
    return counts.tolist(), int(ones.sum()), bbox


def _fl(v: float) -> str:
    return repr(v)


def _annotations(rng: np.random.Generator, img_ids, hs, ws) -> tuple[list[str], list[int]]:
    """Annotation records (without their trailing ',"id":N}') of a block of images, and for each
    whether it is a crowd annotation."""
    n_img = len(img_ids)
    counts = np.where(rng.random(n_img) < 0.01, 0,
                      np.minimum(1 + rng.negative_binomial(2, 2 / 8.37, n_img), 100))
    a_n = int(counts.sum())
    if a_n == 0:
        return [], []
    a_img = np.repeat(np.arange(n_img), counts)
    a_h, a_w = hs[a_img].astype(np.float64), ws[a_img].astype(np.float64)
    kind_u = rng.random(a_n)
    a_cat = CAT_IDS[rng.choice(80, size=a_n, p=CAT_P)]
    clip = rng.random(a_n) < 0.97  # the other 3% may stick out of the image

    # Polygons: 1-3 per annotation, 8-60 vertices each (mean ~21), star-shaped rings.
    n_poly = rng.choice([1, 2, 3], size=a_n, p=[0.8, 0.15, 0.05])
    p_ann = np.repeat(np.arange(a_n), n_poly)
    n_p = len(p_ann)
    n_vert = np.minimum(8 + rng.gamma(1.5, 9.0, n_p).astype(np.int64), 60)
    v_poly = np.repeat(np.arange(n_p), n_vert)
    v_start = np.concatenate([[0], np.cumsum(n_vert)[:-1]])
    n_v = len(v_poly)
    k = np.arange(n_v) - v_start[v_poly]
    radius = np.minimum(np.exp(rng.normal(np.log(35.0), 0.8, a_n)), 0.45 * np.minimum(a_h, a_w))
    radius = np.maximum(radius, 3.0)
    cx, cy = rng.uniform(0, a_w), rng.uniform(0, a_h)
    first = np.concatenate([[True], p_ann[1:] != p_ann[:-1]])  # first polygon of its annotation
    off = np.where(first[:, None], 0.0, rng.normal(0, 1.0, (n_p, 2)) * radius[p_ann, None])
    p_cx, p_cy = cx[p_ann] + off[:, 0], cy[p_ann] + off[:, 1]
    p_r = radius[p_ann] * np.where(first, 1.0, rng.uniform(0.3, 0.7, n_p))
    theta = (k + rng.uniform(0, 0.8, n_v)) / n_vert[v_poly] * (2 * np.pi)
    rr = p_r[v_poly] * rng.uniform(0.5, 1.0, n_v)
    x = p_cx[v_poly] + rr * np.cos(theta)
    y = p_cy[v_poly] + rr * np.sin(theta)
    v_ann = p_ann[v_poly]
    vc = clip[v_ann]
    x = np.where(vc, np.clip(x, 0, a_w[v_ann]), x)
    y = np.where(vc, np.clip(y, 0, a_h[v_ann]), y)
    x, y = np.round(x, 2), np.round(y, 2)
    # Shoelace area of each ring, summed per annotation (float noise gives COCO-like decimals).
    nxt = np.arange(1, n_v + 1)
    last = v_start + n_vert - 1
    nxt[last] = v_start
    cross = x * y[nxt] - x[nxt] * y
    p_area = np.abs(np.add.reduceat(cross, v_start)) / 2
    a_first_poly = np.concatenate([[0], np.cumsum(n_poly)[:-1]])
    area = np.add.reduceat(p_area, a_first_poly)
    a_first_v = v_start[a_first_poly]
    x0, x1 = np.minimum.reduceat(x, a_first_v), np.maximum.reduceat(x, a_first_v)
    y0, y1 = np.minimum.reduceat(y, a_first_v), np.maximum.reduceat(y, a_first_v)
    bbox = np.round(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), 2)

    xy = np.empty(2 * n_v)
    xy[0::2], xy[1::2] = x, y
    coords = list(map(repr, xy.tolist()))
    v_bounds = (2 * np.concatenate([v_start, [n_v]])).tolist()
    p_bounds = np.concatenate([a_first_poly, [n_p]]).tolist()
    areas = list(map(repr, area.tolist()))
    boxes = bbox.tolist()
    bx = [",".join(map(repr, b)) for b in boxes]
    cats = a_cat.tolist()
    img_of = img_ids[a_img].tolist()
    hh, ww = hs[a_img].tolist(), ws[a_img].tolist()
    kinds = kind_u.tolist()
    # Keypoints of person annotations: 35% unlabelled, else each labelled with a per-person rate.
    kp_u = rng.random((a_n, 17))
    kp_rate = np.where(rng.random(a_n) < 0.35, 0.0, rng.uniform(0.3, 1.0, a_n))
    kp_v = np.where(kp_u < kp_rate[:, None], np.where(rng.random((a_n, 17)) < 0.8, 2, 1), 0)
    kp_x = np.rint(bbox[:, 0, None] + rng.random((a_n, 17)) * bbox[:, 2, None]).astype(np.int64)
    kp_y = np.rint(bbox[:, 1, None] + rng.random((a_n, 17)) * bbox[:, 3, None]).astype(np.int64)
    kp_x, kp_y = np.where(kp_v > 0, kp_x, 0), np.where(kp_v > 0, kp_y, 0)
    kp_n = (kp_v > 0).sum(axis=1).tolist()
    kp = np.stack([kp_x, kp_y, kp_v], axis=2).reshape(a_n, 51)

    out, crowd = [], []
    for a in range(a_n):
        u = kinds[a]
        cat = cats[a]
        if u < 0.015:  # RLE: 1% uncompressed crowd, 0.5% compressed string
            h, w = hh[a], ww[a]
            if u < 0.01:
                runs, ar, b = _blob(rng, h, w, 400)
                seg = '{"counts":[%s],"size":[%d,%d]}' % (",".join(map(str, runs)), h, w)
                iscrowd = 1
            else:
                while True:
                    runs, ar, b = _blob(rng, h, w, 200)
                    s = counts_to_string(runs)
                    if "\\" in s:
                        break
                seg = '{"size":[%d,%d],"counts":"%s"}' % (h, w, s.replace("\\", "\\\\"))
                iscrowd = 0
            area_s, box_s = str(ar), ",".join(map(repr, b))
            kp_zero = True
        else:
            p0, p1 = p_bounds[a], p_bounds[a + 1]
            seg = "[" + ",".join("[" + ",".join(coords[v_bounds[p]:v_bounds[p + 1]]) + "]"
                                 for p in range(p0, p1)) + "]"
            iscrowd = 0
            area_s, box_s = areas[a], bx[a]
            kp_zero = False
        if cat == 1:
            if kp_zero:
                nk, kps = 0, ",".join(["0"] * 51)
            else:
                nk, kps = kp_n[a], ",".join(map(str, kp[a].tolist()))
            out.append('{"segmentation":%s,"num_keypoints":%d,"area":%s,"iscrowd":%d,'
                       '"keypoints":[%s],"image_id":%d,"bbox":[%s],"category_id":1'
                       % (seg, nk, area_s, iscrowd, kps, img_of[a], box_s))
        else:
            out.append('{"segmentation":%s,"area":%s,"iscrowd":%d,"image_id":%d,"bbox":[%s],'
                       '"category_id":%d' % (seg, area_s, iscrowd, img_of[a], box_s, cat))
        crowd.append(iscrowd)
    return out, crowd


def write(f, images: int, seed: int = 0) -> dict:
    """Write the dataset to the text stream ``f``; returns counts of what was written."""
    rng = np.random.default_rng(seed)
    ids, hs, ws, extra = _images(rng, images)
    f.write(_header())
    for lo in range(0, images, 16384):
        if lo:
            f.write(",")
        f.write(_image_records(ids, hs, ws, extra, lo, min(images, lo + 16384)))
    f.write('],"annotations":[')
    order = rng.permutation(images)
    next_id, next_crowd_id = 1, 900100000000
    n_ann = n_crowd = 0
    for lo in range(0, images, BLOCK):
        blk = order[lo:lo + BLOCK]
        recs, crowd = _annotations(rng, ids[blk], hs[blk], ws[blk])
        perm = rng.permutation(len(recs)).tolist()
        gaps = rng.integers(1, 5, len(recs)).tolist()
        parts = []
        for j, a in enumerate(perm):
            if crowd[a]:
                aid = next_crowd_id
                next_crowd_id += gaps[j]
                n_crowd += 1
            else:
                aid = next_id
                next_id += gaps[j]
            parts.append('%s,"id":%d}' % (recs[a], aid))
        if parts:
            if n_ann:
                f.write(",")
            f.write(",".join(parts))
            n_ann += len(parts)
    f.write(_footer())
    return {"images": images, "annotations": n_ann, "crowd": n_crowd, "seed": seed,
            "version": VERSION}


def generate(path, images: int, seed: int = 0) -> dict:
    """Write ``images`` images' worth of synthetic COCO to ``path``; returns what was written
    (images, annotations, crowd, seed, version, bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="ascii", newline="", buffering=1 << 22) as f:
        stats = write(f, images, seed)
    tmp.replace(path)
    stats["bytes"] = path.stat().st_size
    return stats


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def write(self, s: str) -> None:
        self.n += len(s)


def images_for_size(size_bytes: float, seed: int = 0) -> int:
    """How many images give about ``size_bytes`` (measured on a 3000-image sample)."""
    sample = 3000
    c = _Counter()
    write(c, sample, seed)
    fixed = len(_header()) + len(_footer())
    per_image = (c.n - fixed) / sample
    return max(1, int(round((size_bytes - fixed) / per_image)))


def parse_size(s: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMG]?)i?B?\s*", s, re.I)
    if not m:
        raise ValueError(f"bad size {s!r} (e.g. 50MB, 476MB, 1.5GB)")
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2).upper()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--size", help="approximate file size, e.g. 50MB, 476MB, 1.5GB")
    g.add_argument("--images", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = args.images if args.images is not None else images_for_size(parse_size(args.size), args.seed)
    t0 = time.perf_counter()
    stats = generate(args.out, n, args.seed)
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
