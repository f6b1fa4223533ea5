"""Train the graded head (`acnekit.detector.graded`) on a frozen `Detector`.

Data: photos at the detector's working scale (the 640x640 ACNE04 copies are) with Pascal
VOC boxes (one class: every box is a lesion the reference grading counted). The frozen
network's stride-2 head features of every photo are computed once (no gradients) and kept in
a float16 file in the run folder (``features-train.f16``, ``features-val.f16``: 6.5 MB per
640x640 photo; an interrupted run resumes them; deleted at the end unless ``keep_cache``), so
each epoch only runs the head, on random ``crop`` x ``crop``-cell windows of the cached
features: focal loss on Gaussian peaks at the box centres. With ``hflip``, the features of
every training photo's mirror image are cached too (``features-train-flip.f16``; flipped
features are not the features of a flipped photo, so the mirror is run through the network)
and each training window comes from the photo or its mirror at random.

After each epoch the head is scored on the val photos: the circle detections (the
detector's operating point) get graded scores, and the graded threshold is the one (on a
grid) with the smallest mean absolute error between the graded count and the box count.
The epoch with the smallest such MAE is kept. Reported on val: count MAE, grade accuracy
against the reference grades (file-name prefix), quadratic kappa, and the spread (sigma) of the
grade probabilities (`reference_grade.fit_sigma`).

    python -m acnekit.detector.graded_train --images DIR --voc DIR --train-list T --val-list V --out RUN
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acnekit.circles import Circles
from acnekit.detector.graded import GradedHead, boxes_to_targets, circle_scores
from acnekit.detector.loss import focal_loss
from acnekit.grading import HAYASHI_UPPER, filename_grade, hayashi_grade
from acnekit.imageio import read_image

log = logging.getLogger("acnekit.graded")
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.025), 3)


@dataclass
class GradedConfig:
    images: str
    voc: str
    train_list: str
    val_list: str
    out: str
    base_model: str | None = None  # circle detector weights; None: the shipped one
    epochs: int = 6
    batch: int = 4
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 32
    depth: int = 2
    seed: int = 0
    crop: int = 128  # training window, in stride-2 cells (0: whole photos)
    max_minutes: float = 30.0  # of head training, after the features are cached
    threads: int = 0
    keep_cache: bool = False
    hflip: bool = False  # also train on the mirrored training photos (their own cached features)
    name: str = "acnekit-graded"  # the head's name in its card


def read_boxes(xml_path: Path) -> Circles:
    """The VOC boxes of one photo as circles (centre, mean half-side), class names ignored."""
    from acnekit.formats.voc import voc_xml_to_record

    rec = voc_xml_to_record(xml_path.read_bytes(), xml_path, 0, keep_outside=True)
    return Circles(rec.circles.xy, rec.circles.radius)


def mirrored(samples: list[tuple[str, np.ndarray, Circles]]) -> list[tuple[str, np.ndarray, Circles]]:
    """The samples' mirror images (left-right) with their boxes mirrored."""
    out = []
    for name, rgb, b in samples:
        w = rgb.shape[1]
        out.append((name, np.ascontiguousarray(rgb[:, ::-1]), Circles(np.c_[w - b.xy[:, 0], b.xy[:, 1]], b.radius)))
    return out


def load_split(cfg: GradedConfig, list_path: str) -> list[tuple[str, np.ndarray, Circles]]:
    from acnekit.detector.data import read_name_list

    out = []
    for name in read_name_list(list_path):
        out.append((name, read_image(Path(cfg.images) / name), read_boxes(Path(cfg.voc) / (Path(name).stem + ".xml"))))
    return out


def cache_features(detector, samples, path: Path) -> np.memmap:
    """(N, C, h, w) float16 memmap of the frozen head features of ``samples`` (one size)."""
    from acnekit.errors import DatasetError

    shapes = {rgb.shape for _, rgb, _ in samples}
    if len(shapes) != 1:
        raise DatasetError(f"graded training needs photos of one size, got {sorted(shapes)[:3]}")
    with torch.no_grad():
        first = detector.net.features(_batch_tensor([samples[0][1]]))
        shape = (len(samples), *first.shape[1:])
        start = 0
        if path.exists():  # resume: rows are written in order; redo the last one written
            feats = np.lib.format.open_memmap(path, mode="r+")
            if feats.shape != shape or feats.dtype != np.float16:
                raise ValueError(f"{path}: cached features of another shape {feats.shape}, want {shape}")
            done = [i for i in range(len(samples)) if np.any(feats[i, :, ::16, ::16])]
            start = max(0, len(done) - 1)
            log.info("%s: resuming at photo %d", path.name, start)
        else:
            feats = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
        for i in range(start, len(samples)):
            feats[i] = (first if i == 0 else detector.net.features(_batch_tensor([samples[i][1]])))[0].numpy()
            if i % 100 == 0:
                feats.flush()
                log.info("%s: %d/%d", path.name, i, len(samples))
    feats.flush()
    return feats


def _batch_tensor(rgbs: list[np.ndarray]) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(np.stack(rgbs))).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    ph, pw = -h % 32, -w % 32
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
    return x.contiguous(memory_format=torch.channels_last)


def score_split(detector, head: GradedHead, samples, feats: np.ndarray) -> list[dict[str, Any]]:
    """Per photo: graded scores of the detected circles (at the operating point, and at the
    detector's floor) and the box count, from the cached features."""
    from acnekit.detector.decode import decode

    head.eval()
    out = []
    with torch.no_grad():
        for (name, rgb, boxes), f in zip(samples, feats):
            y = torch.from_numpy(np.asarray(f, dtype=np.float32))[None]
            heads = {k: v.float() for k, v in detector.net.heads(y).items()}

            c = decode(heads, detector.stride, detector.card["max_detections"], detector.card["min_score"])[0]
            c = c[c.inside(rgb.shape[1], rgb.shape[0])]
            gs = circle_scores(head(y)[0], c, detector.stride)
            op = c.score >= detector.score_threshold
            out.append({"name": name, "scores": gs[op], "floor_scores": gs, "boxes": len(boxes),
                        "grade": filename_grade(name)})
    return out


def select_threshold(scored: list[dict[str, Any]], bands=HAYASHI_UPPER, key: str = "scores") -> dict[str, Any]:
    """The graded threshold with the smallest count MAE against the box counts, and its
    figures. ``key``: ``scores`` (circles at the operating point) or ``floor_scores`` (every
    circle above the detector's floor)."""
    boxes = np.array([s["boxes"] for s in scored])
    best = None
    for t in THRESHOLDS:
        k = np.array([int((s[key] >= t).sum()) for s in scored])
        mae = float(np.abs(k - boxes).mean())
        if best is None or mae < best["count_mae"]:
            best = {"threshold": float(t), "count_mae": mae, "counts": k}
    return {**best, **grade_figures(best["counts"], scored, bands)}


def grade_figures(counts: np.ndarray, scored: list[dict[str, Any]], bands=HAYASHI_UPPER) -> dict[str, Any]:
    from acnekit.metrics.grading import cohen_kappa, confusion_matrix

    boxes = np.array([s["boxes"] for s in scored])
    ref = np.array([-1 if s["grade"] is None else s["grade"] for s in scored])
    pred = hayashi_grade(counts, bands)
    has = ref >= 0
    return {
        "count_mae": float(np.abs(counts - boxes).mean()),
        "count_rmse": float(np.sqrt(((counts - boxes) ** 2).mean())),
        "grade_accuracy": float((pred[has] == ref[has]).mean()) if has.any() else None,
        "kappa_quadratic": cohen_kappa(confusion_matrix(ref[has], pred[has], len(bands) + 1), "quadratic") if has.sum() > 1 else None,
        "box_band_accuracy": float((hayashi_grade(boxes, bands)[has] == ref[has]).mean()) if has.any() else None,
    }


def train_graded(cfg: GradedConfig, detector=None) -> dict[str, Any]:
    """Train, select on val, write ``OUT/graded.safetensors`` + ``OUT/graded.json``; returns the card."""
    from safetensors.torch import save_file

    from acnekit.detector.infer import Detector
    from acnekit.reference_grade import fit_sigma

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    detector = detector if detector is not None else Detector.load(cfg.base_model)
    for p in detector.net.parameters():
        p.requires_grad_(False)
    train, val = load_split(cfg, cfg.train_list), load_split(cfg, cfg.val_list)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ftrain = cache_features(detector, train, out / "features-train.f16")
    fval = cache_features(detector, val, out / "features-val.f16")
    sources = [(ftrain, train)]
    if cfg.hflip:
        flipped = mirrored(train)
        sources.append((cache_features(detector, flipped, out / "features-train-flip.f16"), flipped))
    log.info("features cached in %.1f min", (time.time() - t0) / 60)
    t0 = time.time()
    fh, fw = ftrain.shape[-2:]
    targets = [np.stack([boxes_to_targets(b, (fh, fw), detector.stride) for _, _, b in samples]) for _, samples in sources]
    cin = int(detector.card["arch"]["head_width"])
    head = GradedHead(cin=cin, width=cfg.width, depth=cfg.depth)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(train) / cfg.batch)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.1)
    history, best, best_state = [], None, None
    for epoch in range(cfg.epochs):
        head.train()
        order = rng.permutation(len(train))
        losses = []
        for s in range(steps_per_epoch):
            idx = np.sort(order[s * cfg.batch:(s + 1) * cfg.batch])
            ch, cw = (min(cfg.crop, fh), min(cfg.crop, fw)) if cfg.crop else (fh, fw)
            ys, xs = rng.integers(0, fh - ch + 1, len(idx)), rng.integers(0, fw - cw + 1, len(idx))
            src = rng.integers(0, len(sources), len(idx))  # the photo or (hflip) its mirror
            y = torch.from_numpy(np.stack([np.asarray(sources[k][0][i, :, y0:y0 + ch, x0:x0 + cw], dtype=np.float32)
                                           for k, i, y0, x0 in zip(src, idx, ys, xs)]))
            t = np.stack([targets[k][i, :, y0:y0 + ch, x0:x0 + cw] for k, i, y0, x0 in zip(src, idx, ys, xs)])
            opt.zero_grad()
            loss = focal_loss(head(y), torch.from_numpy(t))
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        scored = score_split(detector, head, val, fval)
        sel = select_threshold(scored)
        floor = select_threshold(scored, key="floor_scores")
        rec = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "minutes": (time.time() - t0) / 60,
               **{k: v for k, v in sel.items() if k != "counts"},
               "floor_circles": {k: v for k, v in floor.items() if k != "counts"}}
        history.append(rec)
        log.info("epoch %d: %s", epoch + 1, json.dumps(rec))
        if best is None or sel["count_mae"] < best["count_mae"]:
            best = sel
            best_state = {k: v.detach().clone().contiguous() for k, v in head.state_dict().items()}
        if (time.time() - t0) / 60 > cfg.max_minutes:
            log.info("stopping: %.1f minutes", (time.time() - t0) / 60)
            break
    grades = [s["grade"] for s in scored]
    known = [i for i, g in enumerate(grades) if g is not None]
    sigma, ll = fit_sigma(best["counts"][known], [grades[i] for i in known]) if known else (None, None)
    card = {
        "name": cfg.name,
        "description": "graded head: which detected lesions the reference (ACNE04) grade counts; a heatmap head "
                       "on the frozen circle detector's stride-2 features (acnekit.detector.graded)",
        "data": {"train": f"{Path(cfg.train_list).name} ({len(train)} photos) with the VOC boxes of {cfg.voc}, "
                          "one class (box centre and mean half-side)",
                 "val": f"{Path(cfg.val_list).name} ({len(val)} photos), for selection",
                 "licence": "ACNE04 photos and boxes are free for academic use only; this head was trained on them"},
        "base_model": detector.name,
        "arch": {"cin": cin, "width": cfg.width, "depth": cfg.depth},
        "graded_threshold": best["threshold"],
        "selection": "epoch and threshold with the smallest val MAE between graded count and box count",
        "val": {k: v for k, v in best.items() if k != "counts"} | {"photos": len(val)},
        "probabilities": {"family": "log-normal on log(count + 1)", "sigma": sigma, "val_mean_log_likelihood": ll},
        "training": {"config": asdict(cfg), "history": history, "train_photos": len(train)},
    }
    del ftrain, fval, sources
    for split in ("train", "val", "train-flip"):
        if not cfg.keep_cache:
            (out / f"features-{split}.f16").unlink(missing_ok=True)
    save_file(best_state, str(out / "graded.safetensors"))
    (out / "graded.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in ("images", "voc", "train_list", "val_list", "out"):
        p.add_argument("--" + f.replace("_", "-"), required=True, dest=f)
    p.add_argument("--base-model", dest="base_model")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hflip", action="store_true", help="also train on the mirrored training photos")
    p.add_argument("--name", default="acnekit-graded", help="the head's name in its card")
    p.add_argument("--max-minutes", type=float, default=30.0, dest="max_minutes")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--keep-cache", action="store_true", dest="keep_cache")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    card = train_graded(GradedConfig(**vars(args)))
    print(json.dumps(card["val"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
