#!/usr/bin/env bash
# Every test of cocors: Rust format, lints and unit tests; the Python package built in release
# mode into a virtual environment; pytest with Hypothesis; and stubtest so the hand-written
# stubs cannot drift from the native module. Usage: bash scripts/test.sh
# COCORS_VENV picks the virtual environment (default .venv, created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${COCORS_VENV:-.venv}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings denied; unwrap/expect/panic denied in library code)"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test -p cocors-core

echo "== python environment ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "maturin>=1.7,<2" numpy "pycocotools==2.0.11" \
  "hypothesis>=6" "pytest>=7" "mypy>=1.10"
echo "== build and install cocors (release)"
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps .

echo "== pytest"
# Run from tests/ so that the installed package is imported, not the source tree.
(cd tests && "../$VENV/bin/python" -m pytest -q -p no:cacheprovider .)
echo "== stubtest"
(cd tests && "../$VENV/bin/python" -m mypy.stubtest cocors._cocors)
echo "== all tests passed"
