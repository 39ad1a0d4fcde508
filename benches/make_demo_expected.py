"""Writes python/cocors/data/val2014_100_expected.json: the digests of pycocotools 2.0.11's
results for the demo job (run with pycocotools installed; tests/test_demo.py re-checks them)."""

import json
from pathlib import Path

import pycocotools.mask as pm

from cocors.demo import compute, digests

out = Path(__file__).resolve().parents[1] / "python" / "cocors" / "data" / "val2014_100_expected.json"
out.write_text(json.dumps(digests(compute(pm)), indent=1) + "\n")
print(out.read_text())
