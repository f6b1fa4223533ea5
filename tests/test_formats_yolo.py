"""YOLO labels: line round trips, folder round trips, sizes from photos or a reference, bad lines."""

from __future__ import annotations

import numpy as np
import pytest
from _formats_gen import assert_circles_close, datasets
from hypothesis import given, settings

from acnekit.circles import Circles
from acnekit.dataset import ImageRecord
from acnekit.errors import DatasetError
from acnekit.formats import read_dataset, write_dataset
from acnekit.formats._util import UNNAMED_CLASS
from acnekit.formats.yolo import (circles_to_yolo_lines, class_table, dataset_to_yolo, load_yolo,
                                  sizes_from_dataset, yolo_lines_to_circles, yolo_to_dataset)


def _names(c: Circles) -> list:
    return [UNNAMED_CLASS] * len(c) if c.class_name is None else [UNNAMED_CLASS if n is None else n
                                                                   for n in c.class_name]


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_round_trip_generated(ds):
    files = dataset_to_yolo(ds)
    names = files["classes.txt"].split("\n")[:-1]
    assert names == class_table(ds)
    labels = {k[len("labels/"):-4]: v for k, v in files.items() if k.startswith("labels/")}
    back = yolo_to_dataset(labels, sizes_from_dataset(ds), names)
    for a, b in zip(ds.images, back.images):
        assert (a.id, a.file_name, a.width, a.height) == (b.id, b.file_name, b.width, b.height)
        assert_circles_close(a.circles, b.circles, atol=1e-3)
        if b.count:
            assert b.circles.class_name.tolist() == _names(a.circles)


def test_lines_round_trip_exact_numbers():
    c = Circles.from_xyr([[100, 50, 10], [20.5, 30.25, 4]], class_name=["acne", "papules"])
    lines = circles_to_yolo_lines(c, 400, 200, {"acne": 0, "papules": 1})
    assert lines[0] == "0 0.25 0.25 0.05 0.1"
    back, boxes = yolo_lines_to_circles(lines, 400, 200, ["acne", "papules"])
    assert back.xyr.tolist() == c.xyr.tolist()
    assert boxes[0].tolist() == [90, 40, 110, 60]


def test_scores_in_sixth_column():
    c = Circles.from_xyr([[100, 50, 10]], score=[0.875])
    lines = circles_to_yolo_lines(c, 400, 200, {UNNAMED_CLASS: 0})
    assert lines == ["0 0.25 0.25 0.05 0.1 0.875"]
    assert yolo_lines_to_circles(lines, 400, 200, [UNNAMED_CLASS])[0].score.tolist() == [0.875]


@pytest.mark.parametrize("line, text", [
    ("0 0.5 0.5 0.1", "expected 5 numbers (class cx cy w h) or 6 (with a score), got 4"),  # 4 numbers
    ("0 0.5 0.5 0.1 0.1 0.9 7", "got 7"),  # 7 numbers
    ("0 0.5 abc 0.1 0.1", "not a number"),  # text
    ("3 0.5 0.5 0.1 0.1", "class must be an integer in 0..1, got '3'"),  # class out of range
    ("0.5 0.5 0.5 0.1 0.1", "class must be an integer"),  # fractional class
    ("0 0.5 0.5 -0.1 0.1", "width and height must be positive"),  # negative width
    ("0 0.5 0.5 nan 0.1", "non-finite"),  # NaN
])
def test_bad_lines(line, text):
    with pytest.raises(DatasetError) as err:
        yolo_lines_to_circles(["0 0.1 0.1 0.05 0.05", "", line], 100, 100, ["a", "b"], path="x.txt")
    assert text in str(err.value) and err.value.where == "line 3" and "x.txt" in str(err.value)


def test_folder_needs_sizes(tmp_path):
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DatasetError, match="--images DIR.*--reference FILE"):
        read_dataset(tmp_path / "y")
    with pytest.raises(DatasetError, match="no image size for label file 'a.txt'"):
        load_yolo(tmp_path / "y", {"b": (0, "b.jpg", 10, 10)})


def test_folder_sizes_from_photos(tmp_path):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (200, 100)).save(photos / "a.jpg")
    Image.new("RGB", (50, 60)).save(photos / "b.png")
    lab = tmp_path / "y" / "labels"
    lab.mkdir(parents=True)
    (lab / "a.txt").write_text("1 0.5 0.5 0.1 0.2\n")
    (tmp_path / "y" / "data.yaml").write_text("names:\n  0: acne\n  1: papules\n")
    ds, _ = read_dataset(tmp_path / "y", images=photos)
    assert [(im.file_name, im.width, im.height, im.count) for im in ds.images] == [
        ("a.jpg", 200, 100, 1), ("b.png", 50, 60, 0)]
    c = ds.images[0].circles
    assert c.xy.tolist() == [[100, 50]] and c.radius[0] == pytest.approx(10)
    assert c.class_name.tolist() == ["papules"]
    assert ds.images[0].ann_extra == [{"box": [90, 40, 110, 60]}]


def test_real_round_trip_with_reference(real_json, tmp_path):
    ref, _ = read_dataset(real_json, keep_outside=True)
    out = write_dataset(ref, "yolo", tmp_path / "yolo")
    assert sorted(p.name for p in out.iterdir()) == [".acnekit-files.json", "classes.txt", "data.yaml", "labels"]
    assert len(list((out / "labels").iterdir())) == 1204
    back, _ = read_dataset(out, reference=real_json, keep_outside=True)
    assert back.n_lesions == 32443
    for a, b in zip(ref.images, back.images):
        assert (a.id, a.file_name, a.width, a.height) == (b.id, b.file_name, b.width, b.height)
        assert_circles_close(a.circles, b.circles, atol=1e-3)
    assert set(np.concatenate([im.circles.class_name for im in back.images if im.count])) == {"acne"}


def test_centre_on_the_border_survives_float_noise():
    # found by hypothesis: x == width goes through x / w * w and comes back a hair past the border
    from acnekit.formats._util import check_inside

    rec = ImageRecord(0, "a.jpg", 331, 694, Circles([[331.00000000000006, 0.0]], [5.0]))
    check_inside(rec, path="a.txt", where=["line 1"])
    assert rec.circles.xy[0, 0] == 331.0
    far = ImageRecord(0, "a.jpg", 331, 694, Circles([[331.5, 0.0]], [5.0]))
    with pytest.raises(DatasetError, match="outside"):
        check_inside(far, path="a.txt", where=["line 1"])
