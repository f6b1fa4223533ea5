"""`AcneDataset` / `ImageRecord` and lossless Acne04-v2 load -> save -> load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord, load_dataset, save_dataset
from acnekit.errors import OutputError
from acnekit.validate import parse_dataset


def small() -> AcneDataset:
    a = ImageRecord(1, "levle1_1.jpg", 100, 80, Circles([[10, 20], [30.5, 40]], [3, 2.5], None, ["acne", None]),
                    ann_ids=[10, 11], ann_extra=[{"note": "x"}, {}], extra={"source": "cam"})
    b = ImageRecord(2, "levle0_2.jpg", 50, 50)
    return AcneDataset([a, b], info={"version": "2.0"}, extra={"licenses": []})


def test_record_checks_lengths():
    with pytest.raises(ValueError, match="ann_ids"):
        ImageRecord(1, "a.jpg", 10, 10, Circles([[1, 1]], [1]), ann_ids=[1, 2])
    with pytest.raises(ValueError, match="ann_extra"):
        ImageRecord(1, "a.jpg", 10, 10, Circles([[1, 1]], [1]), ann_extra=[])


def test_accessors():
    ds = small()
    assert len(ds) == 2 and ds.n_lesions == 2 and ds.counts().tolist() == [2, 0]
    assert set(ds.by_name()) == {"levle1_1.jpg", "levle0_2.jpg"} and ds.by_id()[2].count == 0
    sub = ds.subset({"levle0_2.jpg"})
    assert [im.file_name for im in sub] == ["levle0_2.jpg"] and sub.info == ds.info


def test_to_dict_layout_and_extras():
    d = small().to_dict()
    assert d["images"][0] == {"id": 1, "file_name": "levle1_1.jpg", "width": 100, "height": 80, "source": "cam"}
    a0, a1 = d["annotations"]
    assert a0 == {"id": 10, "image_id": 1, "coordinates": [10, 20], "radius": 3, "class_name": "acne", "note": "x"}
    assert "class_name" not in a1 and a1["coordinates"] == [30.5, 40]
    assert d["info"] == {"version": "2.0"} and d["licenses"] == []


def test_with_circles_assigns_fresh_unique_ids():
    ds = small()
    ds.images[1] = ds.images[1].with_circles(Circles([[1, 1], [2, 2]], [1, 1], [0.5, 0.25]))
    anns = ds.to_dict()["annotations"]
    ids = [a["id"] for a in anns]
    assert len(set(ids)) == 4 and ids[:2] == [10, 11]
    assert [a["score"] for a in anns[2:]] == [0.5, 0.25]


def test_save_load_equal_and_never_overwrites(tmp_path):
    ds = small()
    out = tmp_path / "a.json"
    save_dataset(ds, out)
    back = load_dataset(out)
    assert back.equals(ds)
    with pytest.raises(OutputError, match="exists"):
        save_dataset(ds, out)
    with pytest.raises(OutputError, match="input"):
        save_dataset(back, out)  # back.path is out: never overwrite the source without being told
    save_dataset(back, out, overwrite=True)
    assert load_dataset(out).equals(ds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp files left behind


def test_save_into_missing_folder_is_clear(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        save_dataset(small(), tmp_path / "nope" / "a.json")


def test_floats_survive_unrounded(tmp_path):
    obj = {"images": [{"id": 0, "file_name": "a.jpg", "width": 100, "height": 100}],
           "annotations": [{"id": 0, "image_id": 0, "coordinates": [1.23456789012, 2.0], "radius": 3.000001,
                            "score": 0.1234567891}]}
    ds, _ = parse_dataset(obj)
    back, _ = parse_dataset(json.loads(ds.to_json()))
    assert back.equals(ds)
    assert back.images[0].circles.score[0] == 0.1234567891


# ---------------------------------------------------------------- property: load -> save -> load

_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
_json_value = st.recursive(_json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=6)
_extra_keys = st.sampled_from(["note", "source", "x_extra", "reviewer", "lesion_type"])


@st.composite
def acne04_objects(draw) -> dict:
    """Valid Acne04-v2 objects with extra fields on images, annotations and the top level,
    integer and float coordinates, optional class names and (possibly partial) scores."""
    n_img = draw(st.integers(1, 5))
    ids = draw(st.lists(st.integers(-1000, 10**9), min_size=n_img, max_size=n_img, unique=True))
    images, annotations = [], []
    ann_ids = iter(draw(st.lists(st.integers(0, 2**62), min_size=60, max_size=60, unique=True)))
    for k, image_id in enumerate(ids):
        w, h = draw(st.integers(1, 6000)), draw(st.integers(1, 6000))
        im = {"id": image_id, "file_name": f"levle{k % 4}_{k}.jpg", "width": w, "height": h}
        im.update(draw(st.dictionaries(_extra_keys, _json_value, max_size=2)))
        images.append(im)
        for _ in range(draw(st.integers(0, 10))):
            coord = st.one_of(st.integers(0, min(w, h)), st.floats(0, min(w, h), allow_nan=False))
            ann = {"id": next(ann_ids), "image_id": image_id, "coordinates": [draw(coord), draw(coord)],
                   "radius": draw(st.one_of(st.integers(1, max(w, h)),
                                            st.floats(1e-3, max(w, h), allow_nan=False)))}
            if draw(st.booleans()):
                ann["class_name"] = draw(st.sampled_from(["acne", "papule", "pustule"]))
            if draw(st.booleans()):
                ann["score"] = draw(st.floats(0, 1))
            ann.update(draw(st.dictionaries(_extra_keys, _json_value, max_size=2)))
            annotations.append(ann)
    annotations = draw(st.permutations(annotations))  # annotations need not be grouped by image
    obj = {"images": images, "annotations": annotations}
    if draw(st.booleans()):
        obj["info"] = draw(st.dictionaries(st.text(max_size=5), _json_value, max_size=3))
    obj.update(draw(st.dictionaries(st.sampled_from(["licenses", "categories", "meta"]), _json_value, max_size=2)))
    return obj


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=acne04_objects())
def test_round_trip_load_save_load(tmp_path_factory, obj):
    folder = tmp_path_factory.mktemp("rt")
    src = folder / "in.json"
    src.write_text(json.dumps(obj))
    first = load_dataset(src)
    save_dataset(first, folder / "out.json")
    second = load_dataset(folder / "out.json")
    assert second.equals(first)
    assert second.to_dict() == first.to_dict()
    # every unknown field survives, on each annotation and image
    by_id = {a["id"]: a for a in second.to_dict()["annotations"]}
    for a in obj["annotations"]:
        assert by_id[a["id"]] == {**a, "coordinates": by_id[a["id"]]["coordinates"], "radius": by_id[a["id"]]["radius"]}
        assert np.allclose(by_id[a["id"]]["coordinates"], a["coordinates"]) and by_id[a["id"]]["radius"] == a["radius"]
    for im_in, im_out in zip(obj["images"], second.to_dict()["images"]):
        assert im_in == im_out
    assert {k: v for k, v in obj.items() if k not in ("images", "annotations", "info")} == second.extra
    assert second.info == obj.get("info", {})
