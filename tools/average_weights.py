"""Average the weights of CircleNets from one training lineage into a run folder that
`tools/ship_model.py` can ship.

    python tools/average_weights.py W1 W2 ... --config RUN/config.yaml --out runs/soup [--recompute-bn]

Each W is a ``.safetensors`` file or a run's ``last.ckpt`` (its live weights). The weights
must share one architecture and should come from one lineage (fine-tuned from a common
start); averaging unrelated networks gives nonsense. ``--config`` is the training config
whose data paths (annotations, images, train and val lists) and architecture apply.
``--recompute-bn`` replaces the averaged BatchNorm statistics by statistics measured on the
un-augmented train photos (train data only; val is never seen).

Writes ``OUT/best.safetensors``, ``OUT/config.yaml`` and ``OUT/soup.json`` (the ingredients
with their SHA-256); nothing else is changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch
import yaml

from acnekit.atomic import atomic_write_text
from acnekit.detector.infer import read_weights as read_safetensors
from acnekit.detector.network import CircleNet
from acnekit.detector.soup import average_state_dicts, recompute_batchnorm
from acnekit.detector.train import load_config, model_card, save_weights
from acnekit.errors import AcneKitError, ModelError


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".ckpt":
        if not path.exists():
            raise ModelError("checkpoint not found", path=path)
        try:
            return torch.load(path, map_location="cpu", weights_only=True)["model"]
        except Exception as exc:
            raise ModelError(f"not a training checkpoint with live weights ({type(exc).__name__})", path=path) from None
    return read_safetensors(path, "weights to average")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, nargs="+")
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--recompute-bn", action="store_true")
    args = ap.parse_args()
    try:
        cfg = load_config(str(args.config), {})
        states = [read_weights(p) for p in args.weights]
        avg = average_state_dicts(states, [str(p) for p in args.weights])
        model = CircleNet(width=cfg.width, head_width=cfg.head_width)
        try:
            model.load_state_dict(avg)
        except RuntimeError:
            raise ModelError(f"the weights do not fit width {cfg.width} / head_width {cfg.head_width}",
                             path=args.config) from None
        bn_images = 0
        if args.recompute_bn:
            from acnekit.dataset import load_dataset
            from acnekit.detector.data import load_samples, read_name_list

            ds, _ = load_dataset(cfg.annotations, fix=True)
            samples = load_samples(ds, cfg.images, read_name_list(cfg.train_list))
            bn_images = recompute_batchnorm(model, (s.image for s in samples))
    except AcneKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    save_weights(model.eval(), args.out / "best.safetensors", model_card(cfg, {}))
    atomic_write_text(args.out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False), overwrite=True)
    soup = {
        "ingredients": [{"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in args.weights],
        "batchnorm": f"recomputed on {bn_images} train photos" if bn_images else "averaged",
    }
    atomic_write_text(args.out / "soup.json", json.dumps(soup, indent=2), overwrite=True)
    print(f"averaged {len(states)} networks into {args.out / 'best.safetensors'} ({soup['batchnorm']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
