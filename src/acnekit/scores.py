"""Which scored circles count: the prediction file's own operating point by default.

`acnekit detect` keeps circles down to the model's floor (so AP can be computed) and records
the counting threshold in ``info.score_threshold``. Commands that show or count lesions
(`draw`, `stats`) keep circles scoring at least that threshold unless told otherwise:
``--score-thr T`` keeps those >= T, ``--all-scores`` keeps every circle. Circles without a
score (ground truth) are always kept.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace

import numpy as np

from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import AcneKitError, short_repr


@dataclass(frozen=True)
class ScoreFilter:
    threshold: float | None  # None: every circle kept
    source: str  # "--score-thr", "info.score_threshold", "--all-scores", "no scores", "no threshold in file"
    kept: int = 0
    dropped: int = 0

    def describe(self, label: str = "") -> str | None:
        """One line saying which threshold was used (None when the file has no scores)."""
        who = f"{label}: " if label else ""
        if self.source == "no scores":
            return None
        if self.threshold is None:
            why = ("--all-scores" if self.source == "--all-scores"
                   else "the file records no info.score_threshold; pass --score-thr T to choose one")
            return f"{who}all {self.kept:,} scored circles kept ({why})"
        origin = "the file's info.score_threshold" if self.source == "info.score_threshold" else "--score-thr"
        return (f"{who}circles scoring >= {self.threshold:.3g} kept ({origin}): {self.kept:,} kept, "
                f"{self.dropped:,} below it left out (--all-scores keeps them)")

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "source": self.source, "kept": self.kept, "dropped": self.dropped}


def add_score_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--score-thr", type=float, metavar="T",
                   help="keep scored circles with score >= T (default: the file's info.score_threshold)")
    g.add_argument("--all-scores", action="store_true",
                   help="keep every scored circle, ignoring the file's info.score_threshold")


def _is_scored(ds: AcneDataset) -> bool:
    return any(im.circles.score is not None and im.count for im in ds.images)


def choose(ds: AcneDataset, score_thr: float | None = None, all_scores: bool = False) -> tuple[float | None, str]:
    """The threshold to apply to ``ds`` and where it came from."""
    if score_thr is not None:
        if not (isinstance(score_thr, (int, float)) and math.isfinite(score_thr) and 0 <= score_thr <= 1):
            raise AcneKitError(f"must be a number in [0, 1], got {short_repr(score_thr)}", where="--score-thr")
        return float(score_thr), "--score-thr"
    if not _is_scored(ds):
        return None, "no scores"
    if all_scores:
        return None, "--all-scores"
    t = (ds.info or {}).get("score_threshold") if isinstance(ds.info, dict) else None
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and 0 <= t <= 1:
        return float(t), "info.score_threshold"
    return None, "no threshold in file"


def _keep(rec: ImageRecord, keep: np.ndarray) -> ImageRecord:
    return replace(rec, circles=rec.circles[keep],
                   ann_ids=None if rec.ann_ids is None else rec.ann_ids[keep],
                   ann_extra=None if rec.ann_extra is None else [e for e, k in zip(rec.ann_extra, keep) if k])


def apply_scores(ds: AcneDataset, score_thr: float | None = None,
                 all_scores: bool = False) -> tuple[AcneDataset, ScoreFilter]:
    """``ds`` with only the circles that count, and what was done."""
    thr, source = choose(ds, score_thr, all_scores)
    if thr is None:
        return ds, ScoreFilter(None, source, ds.n_lesions, 0)
    images = []
    for rec in ds.images:
        s = rec.circles.score
        images.append(rec if s is None or not len(s) else _keep(rec, s >= thr))
    out = replace(ds, images=images)
    return out, ScoreFilter(thr, source, out.n_lesions, ds.n_lesions - out.n_lesions)
