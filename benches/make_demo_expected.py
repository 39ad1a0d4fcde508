"""Writes python/cocors/data/val2014_100_expected.json: the digests of pycocotools 2.0.11's
results for the demo job (run with pycocotools installed; tests/test_demo.py re-checks them)."""

import json
from pathlib import Path

import pycocotools.mask as pm
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cocors.demo import compute, digests, evaluate_segm

out = Path(__file__).resolve().parents[1] / "python" / "cocors" / "data" / "val2014_100_expected.json"
expected = digests(compute(pm))
ev = evaluate_segm(COCO, COCOeval)
expected["eval_segm"] = {"stats": ev["stats"], "arrays": ev["arrays"]}
out.write_text(json.dumps(expected, indent=1) + "\n")
print(out.read_text())
