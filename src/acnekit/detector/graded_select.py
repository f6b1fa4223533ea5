"""The graded selector: which detected lesions ACNE04's dermatologists would have marked.

The graded head (`acnekit.detector.graded`) sees only the circle detector's frozen stride-2
features. The selector stacks its score with what a dermatologist's eye weighs when choosing
the conspicuous lesions: the circle's own score and size, its colour and its contrast with
the skin around it (CIELAB), and the photo's context (how many lesions it shows, how strongly
the head responds on it, the lesion's rank among them). It is a small bagged multilayer
perceptron (`Selector`, numpy only) whose output, a probability, replaces the head's score as
the lesion's ``graded_score``; a lesion is graded when that probability reaches the card's
``graded_threshold``.

Features are computed on the working image, in working pixels (`features`), exactly as the
detector sees the photo, over the candidates whose score reaches ``op_threshold`` (the circle
model's operating point, recorded with the selector). Training: `graded_select_train`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from acnekit.circles import Circles
from acnekit.errors import ModelError

FEATURE_NAMES = (
    "head_logit", "score_logit", "log_radius",
    "L_in", "a_in", "b_in", "L_ring", "a_ring", "b_ring", "L_contrast", "a_contrast", "b_contrast",
    "log1p_photo_count", "photo_mean_head_logit", "log1p_photo_head_count", "log1p_head_rank",
)
HEAD_REF = 0.2  # head score at which the photo-context feature counts a lesion (the head's own threshold)
INNER = 0.8  # half-side of the inner colour square, in radii
OUTER = 2.0  # half-side of the outer square (the ring is the outer minus the inner square), in radii


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def colour_features(work_rgb: np.ndarray, xy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(n, 9) CIELAB means (OpenCV's 8-bit L*a*b*, divided by 50) inside a square of half-side
    ``INNER`` radii around each centre, in the ring out to ``OUTER`` radii, and their difference."""
    n = len(xy)
    if n == 0:
        return np.zeros((0, 9))
    lab = cv2.cvtColor(np.ascontiguousarray(work_rgb, dtype=np.uint8), cv2.COLOR_RGB2LAB)
    h, w = lab.shape[:2]
    integral = cv2.integral(lab, sdepth=cv2.CV_64F)  # (h + 1, w + 1, 3)
    x = np.round(xy[:, 0]).astype(int)
    y = np.round(xy[:, 1]).astype(int)

    def box_sum(half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x0, x1 = np.clip(x - half, 0, w), np.clip(x + half + 1, 0, w)
        y0, y1 = np.clip(y - half, 0, h), np.clip(y + half + 1, 0, h)
        s = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        return s, np.maximum((x1 - x0) * (y1 - y0), 1)[:, None].astype(np.float64)

    s_in, a_in = box_sum(np.maximum(np.round(radius * INNER).astype(int), 1))
    s_out, a_out = box_sum(np.maximum(np.round(radius * OUTER).astype(int), 2))
    inner = s_in / a_in
    ring = (s_out - s_in) / np.maximum(a_out - a_in, 1)
    return np.concatenate([inner, ring, inner - ring], axis=1) / 50.0


def features(work_rgb: np.ndarray, circles: Circles, head_score: np.ndarray, op_threshold: float) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) selector features of ``circles`` (working-image pixels, with
    scores) given the graded head's per-circle ``head_score``."""
    n = len(circles)
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    score = np.asarray(circles.score, dtype=np.float64)
    head = np.asarray(head_score, dtype=np.float64)
    op = score >= op_threshold
    head_logit = _logit(head)
    rank = np.empty(n)
    rank[np.argsort(-head, kind="stable")] = np.arange(n)
    context = [
        np.log1p(op.sum()),
        head_logit[op].mean() if op.any() else 0.0,
        np.log1p((head[op] >= HEAD_REF).sum()),
    ]
    return np.column_stack([
        head_logit, _logit(score), np.log(np.maximum(circles.radius, 0.5)),
        colour_features(work_rgb, circles.xy, circles.radius),
        np.tile(np.asarray(context, dtype=np.float64), (n, 1)),
        np.log1p(rank),
    ])


class Selector:
    """A bagged one-hidden-layer (tanh) perceptron on standardised features: the mean of the
    members' sigmoid outputs. ``members``: dicts of ``w1`` (k, h), ``b1`` (h,), ``w2`` (h,),
    ``b2`` (scalar)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, members: list[dict[str, Any]], op_threshold: float):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.members = [{k: np.asarray(v, dtype=np.float64) for k, v in m.items()} for m in members]
        self.op_threshold = float(op_threshold)
        k = len(FEATURE_NAMES)
        if self.mean.shape != (k,) or self.std.shape != (k,) or not self.members:
            raise ModelError(f"graded selector must have {k} features and at least one member")
        for m in self.members:
            if m["w1"].shape[0] != k or m["w1"].shape[1] != m["b1"].shape[0] or m["w2"].shape != m["b1"].shape:
                raise ModelError("graded selector member has inconsistent shapes")

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> "Selector":
        try:
            if list(card["features"]) != list(FEATURE_NAMES):
                raise ModelError(f"graded selector features {card['features']} are not this version's {list(FEATURE_NAMES)}")
            return cls(card["mean"], card["std"], card["members"], card["op_threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"graded selector in the card is malformed ({type(exc).__name__}: {exc})") from None

    def to_card(self) -> dict[str, Any]:
        return {"features": list(FEATURE_NAMES), "op_threshold": self.op_threshold,
                "mean": self.mean.tolist(), "std": self.std.tolist(),
                "members": [{k: (v.tolist() if v.ndim else float(v)) for k, v in m.items()} for m in self.members]}

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(n,) probabilities for an (n, k) feature matrix."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        out = np.zeros(len(z))
        for m in self.members:
            logit = np.tanh(z @ m["w1"] + m["b1"]) @ m["w2"] + m["b2"]
            out += 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
        return out / len(self.members)

    def __call__(self, work_rgb: np.ndarray, circles: Circles, head_score: np.ndarray) -> np.ndarray:
        return self.probability(features(work_rgb, circles, head_score, self.op_threshold))


def fit_selector(x: np.ndarray, y: np.ndarray, op_threshold: float, *, hidden: int = 16, members: int = 5,
                 l2: float = 1e-3, max_iter: int = 300, seed: int = 0) -> Selector:
    """Fit a `Selector` to features ``x`` (n, k) and 0/1 labels ``y`` by L-BFGS on the
    cross-entropy with an L2 penalty on the weights; members differ in their initialisation
    and a bootstrap resample of the rows."""
    import torch

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = torch.tensor((x - mean) / std, dtype=torch.float64)
    t = torch.tensor(y, dtype=torch.float64)
    rng = np.random.default_rng(seed)
    out = []
    for m in range(members):
        torch.manual_seed(seed + m)
        rows = torch.as_tensor(rng.integers(0, len(z), len(z)) if members > 1 else np.arange(len(z)))
        net = torch.nn.Sequential(torch.nn.Linear(z.shape[1], hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)).double()
        opt = torch.optim.LBFGS(net.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(z[rows]).squeeze(1), t[rows])
            loss = loss + l2 * (net[0].weight.pow(2).sum() + net[2].weight.pow(2).sum())
            loss.backward()
            return loss

        opt.step(closure)
        out.append({"w1": net[0].weight.detach().numpy().T.copy(), "b1": net[0].bias.detach().numpy().copy(),
                    "w2": net[2].weight.detach().numpy()[0].copy(), "b2": float(net[2].bias.item())})
    return Selector(mean, std, out, op_threshold)
