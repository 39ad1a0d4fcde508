"""Command line: ``python -m cocors demo`` and ``python -m cocors eval GT DT --iou-type bbox``."""

from __future__ import annotations

import argparse
import sys


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cocors", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the Mask API on the bundled val2014 sample and check it "
                   "against pycocotools 2.0.11's results")
    ev = sub.add_parser("eval", help="evaluate a results file against a ground-truth file and "
                        "print pycocotools' summary")
    ev.add_argument("gt", help="ground-truth COCO annotation file (.json or .json.gz)")
    ev.add_argument("dt", help="results file (a JSON list of detections)")
    ev.add_argument("--iou-type", default="bbox", choices=["bbox", "segm", "keypoints"])
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run()
    if args.command == "eval":
        from .evaluate import evaluate

        result = evaluate(args.gt, args.dt, args.iou_type)
        print("\n".join(result["summary"]))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
