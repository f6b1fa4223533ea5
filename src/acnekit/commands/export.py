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

    from acnekit.atomic import check_output, write_tree
    from acnekit.detector.export import onnx_bytes
    from acnekit.detector.infer import Detector
    from acnekit.errors import OutputError

    out = Path(args.out)
    card_out = out.with_suffix(".json")
    check_output(out, overwrite=args.force)
    check_output(card_out, overwrite=args.force)
    if not out.parent.is_dir():
        raise OutputError("output folder does not exist", path=out.parent)
    if out.suffix == ".json":
        raise OutputError("--out is the ONNX file; its card goes beside it as .json", path=out)
    det = Detector.load(args.model)
    # both files or neither: they are staged complete, then moved into place together
    write_tree(out.parent, {out.name: onnx_bytes(det),
                            card_out.name: json.dumps({**det.card, "format": "onnx"}, indent=2).encode()},
               overwrite=args.force)
    print(f"wrote {out} and {card_out}")
    return 0
