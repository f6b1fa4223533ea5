"""`acnekit export --out model.onnx [--model PATH]`."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the detector network to ONNX",
                       description="Write the detector network as ONNX (input 'image': float RGB 0..255, "
                                   "(1, 3, H, W), H and W multiples of 32; outputs: heatmap logits, offset, "
                                   "log_radius at stride 2) and its model card beside it (.json).")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--model", help="weights (.safetensors) or run folder; default: shipped model")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acnekit.atomic import atomic_write_text, check_output
    from acnekit.detector.export import export_onnx
    from acnekit.detector.infer import Detector

    out = Path(args.out)
    card_out = out.with_suffix(".json")
    check_output(out, overwrite=args.force)
    check_output(card_out, overwrite=args.force)
    det = Detector.load(args.model)
    export_onnx(det, out, overwrite=args.force)
    atomic_write_text(card_out, json.dumps({**det.card, "format": "onnx"}, indent=2), overwrite=args.force)
    print(f"wrote {out} and {card_out}")
    return 0
