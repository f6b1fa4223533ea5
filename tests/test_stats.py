"""`acnekit stats`: figures on a small hand-made dataset and on the real file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.stats import dataset_stats, format_stats


def rec(k: int, name: str, n: int, r0: float = 2.0) -> ImageRecord:
    xy = np.full((n, 2), 5.0)
    return ImageRecord(k, name, 100, 100, Circles(xy, r0 + np.arange(n, dtype=float)))


def hand_made() -> AcneDataset:
    # counts 0, 3, 7, 25, 60 -> Hayashi grades 0, 0, 1, 2, 3
    return AcneDataset([rec(0, "levle0_1.jpg", 0), rec(1, "levle0_2.jpg", 3), rec(2, "levle1_3.jpg", 7),
                        rec(3, "levle2_4.jpg", 25), rec(4, "photo.jpg", 60)])


def test_counts_grades_and_empty_images():
    s = dataset_stats(hand_made())
    assert s["images"] == 5 and s["lesions"] == 95 and s["lesions_valid"] == 95
    c = s["lesions_per_image"]
    assert (c["mean"], c["median"], c["min"], c["max"]) == (19.0, 7.0, 0.0, 60.0)
    assert c["p25"] == 3.0 and c["p75"] == 25.0
    assert [h["images"] for h in s["hayashi"]] == [2, 1, 1, 1]
    assert [h["lesions"] for h in s["hayashi"]] == ["0-5", "6-20", "21-50", ">50"]
    assert s["filename_grades"] == {"(no prefix)": 1, "levle0": 2, "levle1": 1, "levle2": 1}
    assert s["images_without_lesions"] == 1 and s["images_without_lesions_names"] == ["levle0_1.jpg"]
    text = format_stats(s)
    assert "images without lesions: 1 (levle0_1.jpg)" in text and "lesions: 95 annotations" in text


def test_radius_percentiles_px_and_mm():
    s = dataset_stats(hand_made(), px_per_mm=4.0)
    radii = np.concatenate([2.0 + np.arange(n) for n in (3, 7, 25, 60)])
    assert s["radius_px"]["median"] == np.median(radii)
    assert s["radius_px"]["p95"] == pytest.approx(np.percentile(radii, 95))
    assert s["radius_mm"]["max"] == pytest.approx(radii.max() / 4.0)
    assert s["radius_mm"]["n"] == len(radii)
    assert "radius (mm at 4 px/mm)" in format_stats(s)
    with pytest.raises(ValueError):
        dataset_stats(hand_made(), px_per_mm=0)


def test_custom_bands():
    s = dataset_stats(hand_made(), bands=(10,))
    assert [h["images"] for h in s["hayashi"]] == [3, 2]


def test_invalid_annotations_are_counted_not_hidden():
    s = dataset_stats(hand_made(), n_annotations=100, issues=[])
    assert s["lesions"] == 100 and s["lesions_valid"] == 95
    assert "5 invalid" in format_stats(s)


def test_cli_stats_file_with_an_empty_image(tmp_path, capsys):
    obj = {"images": [{"id": 0, "file_name": "levle0_0.jpg", "width": 10, "height": 10},
                      {"id": 1, "file_name": "levle1_1.jpg", "width": 10, "height": 10}],
           "annotations": [{"id": 0, "image_id": 1, "coordinates": [1, 1], "radius": 1}]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(obj))
    assert main(["stats", str(path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["images"] == 2 and s["lesions"] == 1 and s["images_without_lesions_names"] == ["levle0_0.jpg"]


def test_cli_rejects_bad_px_per_mm(tmp_path, capsys):
    assert main(["stats", "nofile.json", "--px-per-mm", "-1"]) == 2
    assert "--px-per-mm" in capsys.readouterr().err


def test_real_file(real_json, capsys):
    assert main(["stats", str(real_json)]) == 0
    out = capsys.readouterr().out
    assert "images: 1,204" in out
    assert "lesions: 32,443 annotations (49 invalid" in out
    assert "validate" in out
    assert main(["stats", str(real_json), "--json", "--px-per-mm", "10"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["images"] == 1204 and s["lesions"] == 32443 and s["lesions_valid"] == 32443 - 49
    assert s["problems_by_kind"] == {"annotation.outside": 49}
    assert sum(h["images"] for h in s["hayashi"]) == 1204
    assert s["filename_grades"] == {"levle0": 470, "levle1": 579, "levle2": 133, "levle3": 22}
    assert s["radius_mm"]["median"] == pytest.approx(s["radius_px"]["median"] / 10)


def test_real_file_with_640_photos(real_json, acne640, capsys):
    args = ["stats", str(real_json), "--images", str(acne640 / "images"), "--missing", "skip", "--json"]
    assert main(args) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["images_valid"] == 1026 and s["images_no_photo"] == 178
    assert s["lesions"] == 32443
    assert s["lesions"] - s["lesions_valid"] - s["lesions_no_photo"] == 49
    assert s["radius_px"]["max"] < 640 and s["on_disk"]["rescaled"] == 1026
