"""The README's demo command: it must pass, and its stored pycocotools digests must be what
pycocotools 2.0.11 gives today."""

import subprocess
import sys

import pycocotools.mask as pm

from cocors.demo import _load, compute, digests


def test_demo_command_passes():
    out = subprocess.run([sys.executable, "-m", "cocors", "demo"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: bit-identical to pycocotools 2.0.11" in out.stdout


def test_stored_digests_are_pycocotools():
    assert digests(compute(pm)) == _load("val2014_100_expected.json")
