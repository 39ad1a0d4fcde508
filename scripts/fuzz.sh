#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (default 30 s each).
# Needs cargo-fuzz (cargo install cargo-fuzz). cargo-fuzz passes nightly-only sanitizer flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH="${1:-30}"
# Seed the scanner with the real COCO files of the tests that are small enough to mutate quickly
# (keypoints, panoptic, results; the larger ones would slow every run).
mkdir -p corpus/scan
for f in ../tests/data/*.json; do
  if [ "$(stat -c %s "$f")" -le 65536 ]; then cp -n "$f" corpus/scan/; fi
done
for target in codec poly rle_ops scan; do
  echo "== fuzz $target (${SECONDS_EACH}s)"
  # The scan reads ahead on a thread of its own: glibc registers that thread's TLS destructors
  # in 32 bytes LeakSanitizer reports as a leak (__cxa_thread_atexit_impl), hence no leak
  # check for it; -timeout catches a scan that does not end.
  extra=""
  if [ "$target" = scan ]; then extra="-detect_leaks=0"; fi
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 $extra
done
