"""Select the operating point of a trained run on val and ship it as acnekit's default model.

    python tools/ship_model.py runs/circlenet [--out src/acnekit/weights/acnekit-circlenet.safetensors]

1. Loads ``RUN/best.safetensors`` (the checkpoint with the best val AP50 during training, or
   the average that `tools/average_weights.py` wrote into RUN).
2. Detects on every val photo (acne04-640, val.txt) at the score floor, with and without
   flip test-time augmentation; keeps flip TTA only if it raises val AP50 by at least 0.01.
3. Chooses the counting threshold that minimises val count MAE (thresholds 0.05..0.95).
4. Evaluates at that threshold with `acnekit.metrics.evaluate` and writes the weights and a
   model card (data, working scale, training config, val metrics, licence note) beside them.

Everything is selected on val; nothing is tuned on any other set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from acnekit.atomic import atomic_write_text
from acnekit.dataset import AcneDataset, load_dataset, save_dataset
from acnekit.detector.data import load_samples, read_name_list
from acnekit.detector.infer import DEFAULT_MODEL, Detector
from acnekit.detector.train import predict_samples
from acnekit.metrics.evaluate import evaluate


def predict_val(det: Detector, samples) -> tuple[AcneDataset, AcneDataset, float]:
    """Ground truth, predictions, and seconds per photo."""
    t0 = time.perf_counter()
    gt, pred = predict_samples(det, samples)
    return gt, pred, (time.perf_counter() - t0) / len(samples)


def count_mae_curve(gt: AcneDataset, pred: AcneDataset, thresholds: np.ndarray) -> np.ndarray:
    g = gt.counts()
    scores = [im.circles.score for im in pred.images]
    return np.array([np.mean(np.abs(np.array([(s >= t).sum() for s in scores]) - g)) for t in thresholds])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--save-val", type=Path, help="also write val GT/predictions JSON here (outside the repo)")
    ap.add_argument("--name", default="acnekit-circlenet-v5", help="model name in the card")
    ap.add_argument("--hardware", default="2-core x86_64 CPU, no GPU", help="what trained it (card)")
    ap.add_argument("--bf16", action="store_true",
                    help="infer (and measure val) with bf16 autocast; pays only on CPUs with native bf16 "
                         "(avx512_bf16 or AMX). Default: fp32")
    ap.add_argument("--note", default="", help="how the run was made, when the config alone does not say (card)")
    args = ap.parse_args()

    cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    ds, _ = load_dataset(cfg["annotations"], fix=True)
    samples = load_samples(ds, cfg["images"], read_name_list(cfg["val_list"]))
    det = Detector.load(args.run / "best.safetensors")
    det.card["bf16"] = args.bf16

    runs = {}
    for tta in (False, True):
        det.card["tta_flip"] = tta
        gt, pred, sec = predict_val(det, samples)
        rep = evaluate(gt, pred, score_thr=det.card["min_score"])
        runs[tta] = (pred, rep["detection"]["ap50"], sec)
        print(f"flip TTA {tta}: val AP50 {rep['detection']['ap50']:.4f} ({sec:.2f} s/photo)", file=sys.stderr)
    tta = runs[True][1] >= runs[False][1] + 0.01
    det.card["tta_flip"] = tta
    pred = runs[tta][0]

    thresholds = np.round(np.arange(0.05, 0.951, 0.01), 2)
    mae = count_mae_curve(gt, pred, thresholds)
    thr = float(thresholds[int(np.argmin(mae))])
    report = evaluate(gt, pred, score_thr=thr)
    det.card["score_threshold"] = thr
    pred.info["score_threshold"] = thr

    training = {"config": cfg}
    if (args.run / "soup.json").exists():  # an average of trained networks (tools/average_weights.py)
        training["averaged_from"] = json.loads((args.run / "soup.json").read_text())
    else:
        train_log = [json.loads(ln) for ln in (args.run / "log.jsonl").read_text().splitlines()]
        val_log = [json.loads(ln) for ln in (args.run / "val.jsonl").read_text().splitlines()]
        training.update(steps=train_log[-1]["step"], wall_minutes=round(train_log[-1]["elapsed_s"] / 60, 1),
                        selected_step=max(val_log, key=lambda e: e["ap50"])["step"], val_history=val_log)
    det_m, cnt, grd = report["detection"], report["counting"], report["grading"]
    card = {
        **det.card,
        "name": args.name,
        "description": "CenterNet-style circle detector (MobileNetV2 features to stride 16, FPN decoder to "
                       "stride 2, heads: centre heatmap, sub-cell offset, log radius).",
        "data": {
            "train": "ACNE04 photos, 640x640 copies (Roboflow export), acne04-640/train.txt (783 photos), with "
                     "Acne04-v2 circles rescaled onto them; 49 out-of-image circles of levle2_130.jpg dropped",
            "val": "acne04-640/val.txt (243 photos); split by image, not by person, so val figures are optimistic",
            "licence": "ACNE04 photos are free for academic use only; this model was trained on them. "
                       "Acne04-v2 annotations: AcneAI (MICCAI 2024).",
        },
        "training": {**training, "hardware": args.hardware, **({"note": args.note} if args.note else {})},
        "selection": {
            "tta_flip": tta,
            "inference_precision": "bf16 autocast" if args.bf16 else "fp32",
            "val_ap50_without_tta": round(runs[False][1], 4),
            "val_ap50_with_tta": round(runs[True][1], 4),
            "score_threshold_rule": "minimises val count MAE over thresholds 0.05..0.95",
            "best_f1_threshold": det_m.get("best_f1", {}).get("threshold"),
        },
        "val_metrics": {
            "ap50": det_m["ap50"],
            "ap50_95": det_m.get("ap50_95"),
            "at_threshold": det_m.get("at_threshold"),
            "best_f1": det_m.get("best_f1"),
            "count_mae": cnt["mae"],
            "count_rmse": cnt["rmse"],
            "grade_accuracy_hayashi": grd["accuracy"],
            "grade_kappa_quadratic": grd.get("kappa_quadratic"),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "best.safetensors", args.out)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(card, indent=2, default=float), overwrite=True)
    if args.save_val:
        args.save_val.mkdir(parents=True, exist_ok=True)
        save_dataset(gt, args.save_val / "val_gt.json", overwrite=True)
        save_dataset(pred, args.save_val / "val_pred.json", overwrite=True)
    print(json.dumps(card["val_metrics"], indent=2, default=float))
    print(f"shipped {args.out} (threshold {thr}, flip TTA {tta})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
