"""Hypothesis strategies for the format round-trip tests: small random `AcneDataset`s."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord

NAMES = ["acne", "papules", "nodules and cysts", 'odd, "quoted" name']


@st.composite
def records(draw, image_id: int, name: str, next_ann: int) -> ImageRecord:
    w = draw(st.integers(1, 5000))
    h = draw(st.integers(1, 5000))
    n = draw(st.integers(0, 5))
    x = draw(st.lists(st.floats(0, w, allow_nan=False), min_size=n, max_size=n))
    y = draw(st.lists(st.floats(0, h, allow_nan=False), min_size=n, max_size=n))
    r = draw(st.lists(st.floats(0.05, max(w, h), allow_nan=False), min_size=n, max_size=n))
    score = None
    if n and draw(st.booleans()):
        score = draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=n, max_size=n))
    names = draw(st.sampled_from(["none", "one", "mixed"]))
    if names == "none" or n == 0:
        class_name = None
    elif names == "one":
        class_name = [draw(st.sampled_from(NAMES))] * n
    else:
        class_name = draw(st.lists(st.sampled_from(NAMES + [None]), min_size=n, max_size=n))
        if all(c is None for c in class_name):
            class_name = None
    circles = Circles(np.column_stack([x, y]).reshape(n, 2), np.array(r).reshape(n), score, class_name)
    return ImageRecord(image_id, name, w, h, circles, ann_ids=np.arange(next_ann, next_ann + n))


@st.composite
def datasets(draw, max_images: int = 4) -> AcneDataset:
    k = draw(st.integers(1, max_images))
    ids = draw(st.lists(st.integers(0, 10_000), min_size=k, max_size=k, unique=True))
    images, next_ann = [], draw(st.integers(0, 100))
    for i, image_id in enumerate(ids):
        rec = draw(records(image_id, f"img_{i}_{image_id}.jpg", next_ann))
        next_ann += rec.count + draw(st.integers(0, 3))
        images.append(rec)
    return AcneDataset(images=images)


def assert_circles_close(a: Circles, b: Circles, atol: float = 1e-3) -> None:
    assert len(a) == len(b)
    np.testing.assert_allclose(a.xy, b.xy, atol=atol, rtol=1e-9)
    np.testing.assert_allclose(a.radius, b.radius, atol=atol, rtol=1e-9)
    assert (a.score is None) == (b.score is None)
    if a.score is not None:
        np.testing.assert_allclose(a.score, b.score, atol=1e-9)
