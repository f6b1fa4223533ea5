"""Evaluation plots as PNG (matplotlib, Agg backend): PR curve, count scatter, confusion matrix.

Each function takes the dict returned by `acnekit.metrics.evaluate` and returns PNG bytes;
`write_plots` checks every target first, then writes each file atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from acnekit.atomic import atomic_write_bytes, check_output
from acnekit.errors import OutputError

PLOT_FILES = ("pr_curve.png", "count_scatter.png", "confusion_matrix.png")


def _figure(size=(5.0, 4.5)):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=size, dpi=100)


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def pr_curve_png(result: dict) -> bytes:
    det = result["detection"]
    plt, fig = _figure()
    ax = fig.add_subplot()
    rec = np.asarray(det["pr_curve"]["recall"])
    prec = np.asarray(det["pr_curve"]["precision"])
    rule = f"IoU >= {det['iou']:g}" if det["rule"] == "iou" else "centre distance"
    ap = det["ap"]
    ax.step(rec, prec, where="post", label=f"AP ({rule}) = {ap:.3f}" if ap is not None else "AP undefined")
    at = det["at_threshold"]
    if at["precision"] is not None and at["recall"] is not None:
        ax.plot([at["recall"]], [at["precision"]], "o",
                label=f"score >= {result['settings']['score_threshold']:.3g}: F1 {at['f1']:.3f}")
    ax.set(xlim=(0, 1.01), ylim=(0, 1.01), xlabel="recall", ylabel="precision (interpolated)",
           title="Precision-recall")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _png(plt, fig)


def count_scatter_png(result: dict) -> bytes:
    rows = result["per_image"]
    gt = np.array([r["gt_count"] for r in rows], dtype=float)
    pred = np.array([r["pred_count"] for r in rows], dtype=float)
    plt, fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(gt, pred, s=10, alpha=0.5)
    top = max(1.0, gt.max(initial=0), pred.max(initial=0)) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=1, label="y = x")
    c = result["counting"]
    if c["mae"] is not None:
        ax.set_title(f"Lesion counts per image (MAE {c['mae']:.2f}, RMSE {c['rmse']:.2f})")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="ground-truth count", ylabel="predicted count")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _png(plt, fig)


def confusion_png(result: dict) -> bytes:
    g = result["grading"]
    conf = np.asarray(g["confusion_matrix"])
    k = conf.shape[0]
    plt, fig = _figure()
    ax = fig.add_subplot()
    ax.imshow(conf, cmap="Blues")
    hi = conf.max(initial=0)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(conf[i, j]), ha="center", va="center",
                    color="white" if hi and conf[i, j] > hi / 2 else "black")
    ax.set_xticks(range(k), g["labels"])
    ax.set_yticks(range(k), g["labels"])
    ax.set(xlabel="predicted grade (lesion count)", ylabel="true grade (lesion count)")
    acc = g["accuracy"]
    ax.set_title("Hayashi grades" + (f" (accuracy {acc:.3f})" if acc is not None else ""))
    return _png(plt, fig)


def write_plots(result: dict, folder: str | Path, *, overwrite: bool = False,
                inputs: tuple = ()) -> list[Path]:
    """Write the three PNGs into ``folder`` (created if missing). Every target is checked
    before anything is written, so a refusal leaves no partial set."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError("plots path exists and is not a folder", path=folder)
    targets = [folder / name for name in PLOT_FILES]
    for t in targets:
        check_output(t, overwrite=overwrite, inputs=inputs)
    images = [pr_curve_png(result), count_scatter_png(result), confusion_png(result)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder ({exc.strerror})", path=folder) from None
    return [atomic_write_bytes(t, data, overwrite=overwrite) for t, data in zip(targets, images)]
