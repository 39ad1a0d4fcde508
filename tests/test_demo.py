"""The README's demo command: it must pass, and its stored pycocotools digests must be what
pycocotools 2.0.11 gives today."""

import subprocess
import sys

import pycocotools.mask as pm
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cocors.demo import PUBLISHED_SEGM, _load, compute, digests, evaluate_segm


def test_demo_command_passes():
    out = subprocess.run([sys.executable, "-m", "cocors", "demo"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: bit-identical to pycocotools 2.0.11" in out.stdout


def test_stored_digests_are_pycocotools():
    stored = _load("val2014_100_expected.json")
    eval_stored = stored.pop("eval_segm")
    assert digests(compute(pm)) == stored
    ev = evaluate_segm(COCO, COCOeval)
    assert {"stats": ev["stats"], "arrays": ev["arrays"]} == eval_stored
    assert [round(v, 3) for v in ev["stats"]] == PUBLISHED_SEGM
