"""Train the graded selector (`acnekit.detector.graded_select`) and write a graded-head card
that carries it.

    python -m acnekit.detector.graded_select_train --images DIR --voc DIR \\
        --train-list train.txt --val-list val.txt --out runs/graded-select

Every photo is run through the shipped detector and graded head (selector off) as
``acnekit assess`` runs it: once at the photo-area working scale and once at the face
working scale (`acnekit.face`; the same image when no face is found). A candidate (score at
the circle model's operating point or more; on the facial skin under the face rule) is a
positive when it is matched one to one (Hungarian assignment on centre distance) to a VOC box
whose centre lies within max(box half-side, 4 px) + half the circle's radius, matching only
among the countable candidates (`countable_labels`). The selector is
fitted on the training photos' candidates of both rules; on val, the threshold (0.025 grid)
with the smallest MAE between graded count and box count under the face rule is selected,
and the grade probabilities' sigma is refitted on val. Features of every photo are cached
(``--cache``), so refits take seconds.

The shipped head was trained on the training photos, so its scores there are in-sample and
more confident than on new photos. ``--oof HEAD=LIST`` (once per fold) gives the training
photos in LIST the scores of a head trained without them (`graded_train` on the other folds),
as stacking wants; val photos always get the shipped head.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from acnekit.atomic import atomic_write_text
from acnekit.grading import HAYASHI_UPPER, filename_grade, hayashi_grade

GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def match_boxes(xy: np.ndarray, radius: np.ndarray, box_xy: np.ndarray, box_r: np.ndarray) -> np.ndarray:
    """(n,) bool: circles matched one to one to a box (centre within max(box r, 4) + r / 2)."""
    from scipy.optimize import linear_sum_assignment

    out = np.zeros(len(xy), dtype=bool)
    if len(xy) == 0 or len(box_xy) == 0:
        return out
    d = np.linalg.norm(xy[:, None] - box_xy[None], axis=2)
    gate = np.maximum(box_r[None], 4.0) + 0.5 * radius[:, None]
    cost = np.where(d <= gate, d, 1e6)
    ri, ci = linear_sum_assignment(cost)
    ok = cost[ri, ci] < 1e6
    out[ri[ok]] = True
    return out


def countable_labels(circles, at_op: np.ndarray, in_skin: np.ndarray, boxes) -> np.ndarray:
    """(n,) bool: the circles matched to a box, matching only among the circles a graded count
    can include (at the operating point or more, on the skin). Matching all candidates would let
    a low-score circle near a box take its match from the countable circle beside it."""
    ok = np.flatnonzero(at_op & in_skin)
    out = np.zeros(len(circles), dtype=bool)
    out[ok] = match_boxes(circles.xy[ok], circles.radius[ok], boxes.xy, boxes.radius)
    return out


def photo_rows(det, name: str, rgb: np.ndarray, boxes, face_on: bool = True,
               source_quality: float | None = None) -> list[dict[str, Any]]:
    """One record per working-scale rule (area, face) of one photo: features, labels, flags.
    ``source_quality``: the photo file's JPEG quality, as `assess_photo` passes it."""
    from acnekit.detector.graded_select import features
    from acnekit.face.pipeline import analyse_face
    from acnekit.face.working import face_working_scale

    h, w = rgb.shape[:2]
    fa = analyse_face(rgb) if face_on else None
    face_scale = None
    if fa is not None and fa.found:
        face_scale, _ = face_working_scale(fa.face.size_px(), w, h, dict(det.working_scale))
    op = det.score_threshold
    rows = []
    for rule, scale in (("area", None), ("face", face_scale)):
        work, c = det.candidates_many([rgb], [scale], select=False, source_qualities=[source_quality])[0]
        sx, sy = w / work.shape[1], h / work.shape[0]
        photo_c = c.scaled(sx, sy)
        ins = fa.lesion_flags(photo_c.xy)[0] if (rule == "face" and fa is not None) else np.ones(len(c), bool)
        score = np.asarray(c.score, float)
        rows.append({
            "name": name, "rule": rule, "grade": filename_grade(name), "nbox": len(boxes),
            "x": features(work, c, c.graded_score, op), "score": score,
            "label": countable_labels(photo_c, score >= op, ins, boxes), "in_skin": ins,
            "xy": photo_c.xy.astype(np.float32), "radius": photo_c.radius.astype(np.float32),
            "box_xy": boxes.xy.astype(np.float32), "box_r": boxes.radius.astype(np.float32),
        })
    return rows


def graded_counts(rows: list[dict[str, Any]], probs: list[np.ndarray], thr: float, op: float) -> np.ndarray:
    return np.array([int(((p >= thr) & (r["score"] >= op) & r["in_skin"]).sum()) for r, p in zip(rows, probs)])


def figures(counts: np.ndarray, rows: list[dict[str, Any]], bands=HAYASHI_UPPER) -> dict[str, Any]:
    from acnekit.metrics.grading import cohen_kappa, confusion_matrix

    nbox = np.array([r["nbox"] for r in rows])
    ref = np.array([r["grade"] for r in rows])
    pred = hayashi_grade(counts, bands)
    conf = confusion_matrix(ref, pred, len(bands) + 1)
    return {"photos": len(rows), "count_mae": float(np.abs(counts - nbox).mean()),
            "count_rmse": float(np.sqrt(((counts - nbox) ** 2).mean())), "mean_count": float(counts.mean()),
            "mean_boxes": float(nbox.mean()), "grade_accuracy": float((pred == ref).mean()),
            "kappa_quadratic": float(cohen_kappa(conf, "quadratic")), "confusion": conf.tolist()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--voc", required=True)
    ap.add_argument("--train-list", required=True)
    ap.add_argument("--val-list", required=True)
    ap.add_argument("--out", required=True, help="folder for the new card (acnekit-graded.json) and the cache")
    ap.add_argument("--cache", default=None, help="feature cache (.npy); default OUT/features.npy")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--limit", type=int, default=0, help="first N photos of each list (0: all; for smoke runs)")
    ap.add_argument("--name", default="acnekit-graded-v3", help="name of the new card (head + selector)")
    ap.add_argument("--oof", action="append", default=[], metavar="HEAD=LIST",
                    help="out-of-fold head scores: for the training photos named in LIST, use the graded "
                         "head HEAD (.safetensors, trained without them) instead of the shipped one; repeat "
                         "per fold")
    args = ap.parse_args(argv)

    from acnekit.detector.graded_select import fit_selector
    from acnekit.detector.graded_train import read_boxes
    from acnekit.detector.infer import Detector
    from acnekit.imageio import jpeg_quality, read_image
    from acnekit.reference_grade import fit_sigma

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else out / "features.npy"
    det = Detector.load()
    if det.graded is None:
        raise SystemExit("the shipped graded head is absent")
    fold_of: dict[str, Any] = {}  # training photo -> the detector whose head never saw it
    for spec in args.oof:
        head_path, _, list_path = spec.partition("=")
        fold_det = Detector.load(graded=head_path)
        for n in Path(list_path).read_text().split():
            fold_of[n] = fold_det
    split_names = {s: Path(p).read_text().split() for s, p in (("train", args.train_list), ("val", args.val_list))}
    if args.limit:
        split_names = {s: v[: args.limit] for s, v in split_names.items()}
    t0 = time.time()
    if cache.exists():
        rows = list(np.load(cache, allow_pickle=True))
        print(f"features from {cache}: {len(rows)} records")
    else:
        rows = []
        for split, names in split_names.items():
            for i, n in enumerate(names):
                path = Path(args.images) / n
                boxes = read_boxes(Path(args.voc) / (Path(n).stem + ".xml"))
                use = fold_of.get(n, det) if split == "train" else det
                for r in photo_rows(use, n, read_image(path), boxes, source_quality=jpeg_quality(path)):
                    rows.append({**r, "split": split})
                if i % 100 == 0:
                    print(f"{split} {i}/{len(names)} {time.time() - t0:.0f} s", flush=True)
        np.save(cache, np.array(rows, dtype=object), allow_pickle=True)
    minutes = (time.time() - t0) / 60
    op = det.score_threshold
    # the head's own threshold (before a selector took over graded_threshold)
    head_thr = float(det.graded_card.get("head_threshold", det.graded_card.get("graded_threshold", 0.2)))

    def pick(split: str, rule: str | None = None) -> list[dict[str, Any]]:
        return [r for r in rows if r["split"] == split and (rule is None or r["rule"] == rule)]

    train = pick("train")
    keep = [(r["score"] >= op) & r["in_skin"] for r in train]
    x = np.concatenate([r["x"][k] for r, k in zip(train, keep)])
    y = np.concatenate([r["label"][k] for r, k in zip(train, keep)])
    sel = fit_selector(x, y, op, hidden=args.hidden, members=args.members, l2=args.l2)
    result: dict[str, Any] = {"train_candidates": int(len(y)), "train_positive": int(y.sum())}
    val_of = {rule: pick("val", rule) for rule in ("face", "area")}
    probs_of = {rule: [sel.probability(r["x"]) for r in val] for rule, val in val_of.items()}
    for rule, val in val_of.items():
        sweep = [{"threshold": float(t), **figures(graded_counts(val, probs_of[rule], t, op), val)} for t in GRID]
        for s in sweep:
            s.pop("confusion")
        result[rule] = {"sweep": sweep}
    best = min(result["face"]["sweep"], key=lambda s: s["count_mae"])
    thr = best["threshold"]
    for rule, val in val_of.items():
        counts = graded_counts(val, probs_of[rule], thr, op)
        result[rule]["selected"] = {"threshold": thr, **figures(counts, val)}
        if rule == "face":
            sigma, ll = fit_sigma(counts, [r["grade"] for r in val])
            result["sigma"] = {"sigma": sigma, "val_mean_log_likelihood": ll}
        head = graded_counts(val, [1 / (1 + np.exp(-r["x"][:, 0])) for r in val], head_thr, op)
        result[rule]["head_alone"] = figures(head, val)

    card = copy.deepcopy(det.graded_card)  # the shipped head's card, which the new one extends
    card["head_threshold"] = head_thr
    card["head_name"] = card.get("head_name", card.get("name"))
    card["name"] = args.name
    card["graded_threshold"] = thr
    card["selector"] = sel.to_card()
    card["selection"] = ("selector fitted on train (both working-scale rules); threshold with the smallest val "
                         "MAE between graded count and box count under the face rule (acnekit assess's default)")
    card["val"] = {"rule": "face", **result["face"]["selected"]}
    card["val_area_rule"] = result["area"]["selected"]
    card["probabilities"] = {"family": "log-normal on log(count + 1)", "sigma": result["sigma"]["sigma"],
                             "val_mean_log_likelihood": result["sigma"]["val_mean_log_likelihood"],
                             "note": "reference_grade.fit_sigma on the val graded counts (face rule)"}
    card["selector_training"] = {"args": vars(args), "feature_minutes": round(minutes, 1), **result}
    atomic_write_text(out / "acnekit-graded.json", json.dumps(card, indent=2) + "\n", overwrite=True)
    for rule in ("face", "area"):
        s, h = result[rule]["selected"], result[rule]["head_alone"]
        print(f"val ({rule} rule): threshold {thr}: count MAE {s['count_mae']:.2f}, grade accuracy "
              f"{s['grade_accuracy']:.3f}, quadratic kappa {s['kappa_quadratic']:.3f}, mean {s['mean_count']:.1f} "
              f"vs boxes {s['mean_boxes']:.1f} | head alone: MAE {h['count_mae']:.2f}, accuracy {h['grade_accuracy']:.3f}")
    print(f"sigma {result['sigma']['sigma']} ; card: {out / 'acnekit-graded.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
