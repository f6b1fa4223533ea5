"""Validation of Acne04-v2 files: the bad-input corpus, the real file's defect, big files."""

from __future__ import annotations

import json
import math

import pytest

from acnekit.dataset import load_dataset
from acnekit.errors import DatasetError
from acnekit.validate import bad_file_name, parse_dataset


def base() -> dict:
    """A small valid file: two images, three circles."""
    return {
        "images": [
            {"id": 1, "file_name": "levle1_1.jpg", "width": 100, "height": 80},
            {"id": 2, "file_name": "levle0_2.jpg", "width": 50, "height": 50},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "coordinates": [10, 20], "radius": 3, "class_name": "acne"},
            {"id": 11, "image_id": 1, "coordinates": [30.5, 40], "radius": 2.5},
            {"id": 12, "image_id": 2, "coordinates": [5, 5], "radius": 1},
        ],
        "info": {"version": "2.0"},
    }


def mutate(path: str, value):
    """base() with the value at a JSON-ish path ("annotations.0.radius") replaced."""
    obj = base()
    keys = path.split(".")
    node = obj
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return obj


def drop(key: str) -> dict:
    obj = base()
    del obj[key]
    return obj


def add(key: str, item) -> dict:
    obj = base()
    obj[key].append(item)
    return obj


NAN, INF = math.nan, math.inf

# (id, object to write, expected JSON path in the message, expected value text, fixable)
STRUCTURED = [
    # top level is a list, not an object
    ("top-level-list", [1, 2], "$", "list", False),
    # required keys missing
    ("missing-images", drop("images"), "$", "'images'", False),
    ("missing-annotations", drop("annotations"), "$", "'annotations'", False),
    # images must be a list
    ("images-not-list", mutate("images", {"a": 1}), "images", "dict", False),
    # info must be an object
    ("info-not-object", mutate("info", [1]), "info", "list", False),
    # empty dataset: no images at all
    ("empty-dataset", {"images": [], "annotations": []}, "images", "no images", False),
    # an image that is not an object
    ("image-not-object", add("images", 5), "images[2]", "5", True),
    # image id a string, a bool, a float
    ("image-id-string", mutate("images.0.id", "1"), "images[0].id", '"1"', True),
    ("image-id-bool", mutate("images.0.id", True), "images[0].id", "true", True),
    ("image-id-float", mutate("images.0.id", 1.0), "images[0].id", "1.0", True),
    # zero / negative / non-integer width and height
    ("width-zero", mutate("images.0.width", 0), "images[0].width", "0", True),
    ("height-negative", mutate("images.1.height", -5), "images[1].height", "-5", True),
    ("width-float", mutate("images.0.width", 99.5), "images[0].width", "99.5", True),
    ("width-bool", mutate("images.0.width", True), "images[0].width", "true", True),
    ("width-missing", mutate("images.0.width", None), "images[0].width", "null", True),
    # file_name with a path separator, '..', an absolute path, empty
    ("name-slash", mutate("images.0.file_name", "sub/a.jpg"), "images[0].file_name", '"sub/a.jpg"', True),
    ("name-backslash", mutate("images.0.file_name", "sub\\a.jpg"), "images[0].file_name", "sub", True),
    ("name-dotdot", mutate("images.0.file_name", ".."), "images[0].file_name", '".."', True),
    ("name-absolute-posix", mutate("images.0.file_name", "/etc/a.jpg"), "images[0].file_name", "/etc/a.jpg", True),
    ("name-absolute-windows", mutate("images.0.file_name", "C:a.jpg"), "images[0].file_name", '"C:a.jpg"', True),
    ("name-empty", mutate("images.0.file_name", ""), "images[0].file_name", '""', True),
    ("name-not-string", mutate("images.0.file_name", 7), "images[0].file_name", "7", True),
    # duplicate image ids and duplicate file names
    ("duplicate-image-id", mutate("images.1.id", 1), "images[1].id", "1", True),
    ("duplicate-file-name", mutate("images.1.file_name", "levle1_1.jpg"), "images[1].file_name", "levle1_1.jpg", True),
    # an annotation that is not an object
    ("annotation-not-object", add("annotations", "x"), "annotations[3]", '"x"', True),
    # annotation id not an integer / beyond 64 bits
    ("annotation-id-string", mutate("annotations.0.id", "a"), "annotations[0].id", '"a"', True),
    ("annotation-id-huge", mutate("annotations.0.id", 2**64), "annotations[0].id", str(2**64), True),
    # annotation pointing at a missing image
    ("missing-image", mutate("annotations.0.image_id", 99), "annotations[0].image_id", "99", True),
    ("image-id-ref-null", mutate("annotations.0.image_id", None), "annotations[0].image_id", "null", True),
    # coordinates not two numbers
    ("coords-one-number", mutate("annotations.0.coordinates", [1]), "annotations[0].coordinates", "[1]", True),
    ("coords-three-numbers", mutate("annotations.0.coordinates", [1, 2, 3]), "annotations[0].coordinates", "[1, 2, 3]", True),
    ("coords-strings", mutate("annotations.0.coordinates", ["1", "2"]), "annotations[0].coordinates", '["1", "2"]', True),
    ("coords-object", mutate("annotations.0.coordinates", {"x": 1}), "annotations[0].coordinates", '{"x": 1}', True),
    ("coords-missing", mutate("annotations.0.coordinates", None), "annotations[0].coordinates", "null", True),
    # NaN / inf / bools where numbers belong
    ("coords-nan", mutate("annotations.0.coordinates", [NAN, 2]), "annotations[0].coordinates", "NaN", True),
    ("coords-inf", mutate("annotations.0.coordinates", [1, INF]), "annotations[0].coordinates", "Infinity", True),
    ("coords-bool", mutate("annotations.0.coordinates", [True, 2]), "annotations[0].coordinates", "[true, 2]", True),
    ("radius-nan", mutate("annotations.1.radius", NAN), "annotations[1].radius", "NaN", True),
    ("radius-inf", mutate("annotations.1.radius", INF), "annotations[1].radius", "Infinity", True),
    ("radius-bool", mutate("annotations.1.radius", True), "annotations[1].radius", "true", True),
    # radius not a positive number
    ("radius-zero", mutate("annotations.1.radius", 0), "annotations[1].radius", "0", True),
    ("radius-negative", mutate("annotations.1.radius", -2), "annotations[1].radius", "-2", True),
    ("radius-string", mutate("annotations.1.radius", "3"), "annotations[1].radius", '"3"', True),
    # score / class_name of the wrong type
    ("score-string", mutate("annotations.1.score", "high"), "annotations[1].score", '"high"', True),
    ("class-name-number", mutate("annotations.1.class_name", 3), "annotations[1].class_name", "3", True),
    # duplicate annotation ids
    ("duplicate-annotation-id", mutate("annotations.2.id", 10), "annotations[2].id", "10", True),
    # circle centre outside its image (image 2 is 50x50)
    ("centre-outside", mutate("annotations.2.coordinates", [60, 5]), "annotations[2].coordinates", "[60, 5]", True),
    ("centre-negative", mutate("annotations.2.coordinates", [-1, 5]), "annotations[2].coordinates", "[-1, 5]", True),
    # radius larger than the image
    ("radius-too-large", mutate("annotations.2.radius", 51), "annotations[2].radius", "51", True),
    # NaN in an unknown field cannot be written back
    ("extra-field-nan", mutate("annotations.1.note", NAN), "annotations[1].note", "NaN", True),
]


@pytest.mark.parametrize("case,obj,where,value,fixable", STRUCTURED, ids=[c[0] for c in STRUCTURED])
def test_strict_error_names_file_path_and_value(tmp_path, case, obj, where, value, fixable):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))  # json writes NaN / Infinity tokens, as some tools do
    with pytest.raises(DatasetError) as exc:
        load_dataset(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert where in msg
    assert value in msg
    assert "\n" not in msg


@pytest.mark.parametrize("case,obj,where,value,fixable", [c for c in STRUCTURED if c[4]],
                         ids=[c[0] for c in STRUCTURED if c[4]])
def test_fix_mode_reports_the_repair_and_loads(tmp_path, case, obj, where, value, fixable):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    ds, issues = load_dataset(path, fix=True)
    assert any(i.where.startswith(where) for i in issues), [i.describe() for i in issues]
    json.loads(ds.to_json())  # the repaired dataset can be written as strict JSON
    assert len(ds) >= 1


# Files that are not JSON at all: (id, raw text, expected words)
RAW = [
    # plain text
    ("not-json", "hello world", "not valid JSON"),
    # cut off in the middle
    ("truncated", json.dumps(base())[:-20], "truncated JSON"),
    # empty file
    ("empty-file", "", "empty"),
    # only whitespace
    ("blank-file", "  \n ", "empty"),
]


@pytest.mark.parametrize("case,text,words", RAW, ids=[c[0] for c in RAW])
def test_unreadable_json(tmp_path, case, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DatasetError) as exc:
        load_dataset(path)
    assert str(path) in str(exc.value) and words in str(exc.value)


def test_not_utf8_and_missing_file_and_folder(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="JSON"):
        load_dataset(path)
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "absent.json")
    with pytest.raises(DatasetError, match="folder"):
        load_dataset(tmp_path)


def test_image_without_annotations_is_allowed():
    obj = base()
    obj["images"].append({"id": 3, "file_name": "levle0_3.jpg", "width": 10, "height": 10})
    ds, issues = parse_dataset(obj)
    assert issues == [] and ds.by_name()["levle0_3.jpg"].count == 0


def test_circle_on_the_border_is_inside():
    obj = mutate("annotations.2.coordinates", [50, 0])  # image 2 is 50x50: the edge counts as inside
    ds, issues = parse_dataset(obj)
    assert issues == [] and ds.n_lesions == 3


def test_strict_message_counts_per_image():
    obj = base()
    obj["annotations"][0]["coordinates"] = [1000, 1000]
    obj["annotations"][1]["coordinates"] = [-5, 10]
    with pytest.raises(DatasetError) as exc:
        parse_dataset(obj, path="f.json")
    assert "2 of the 2 circles of 'levle1_1.jpg'" in str(exc.value)


def test_fix_renumbers_duplicate_annotation_ids_uniquely():
    obj = mutate("annotations.2.id", 10)
    ds, issues = parse_dataset(obj, fix=True)
    ids = [int(i) for im in ds for i in im.ann_ids]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 3
    assert issues[0].code == "annotation.duplicate_id"


@pytest.mark.parametrize("name,ok", [
    ("levle0_1.jpg", True),  # ordinary
    ("a b.JPG", True),  # spaces are fine
    ("..jpg", True),  # starts with dots but is not '..'
    ("a/b.jpg", False), ("a\\b.jpg", False), ("..", False), (".", False),
    ("/abs.jpg", False), ("C:\\x.jpg", False), ("D:x.jpg", False), ("", False), (" ", False), (None, False),
])
def test_bad_file_name(name, ok):
    assert (bad_file_name(name) is None) == ok


# ---------------------------------------------------------------- the real Acne04-v2 file

def test_real_file_strict_fails_naming_the_defect(real_json):
    with pytest.raises(DatasetError) as exc:
        load_dataset(real_json)
    msg = str(exc.value)
    assert "levle2_130.jpg" in msg and "49 of the 67 circles" in msg and str(real_json) in msg
    assert "annotations[" in msg and ".coordinates" in msg


def test_real_file_fix_reports_49_repairs(real_json):
    ds, issues = load_dataset(real_json, fix=True)
    assert len(issues) == 49
    assert {i.image for i in issues} == {"levle2_130.jpg"}
    assert {i.code for i in issues} == {"annotation.outside"}
    assert len(ds) == 1204 and ds.n_lesions == 32443 - 49
    assert ds.by_name()["levle2_130.jpg"].count == 67 - 49


# ---------------------------------------------------------------- a generated ~50 MB file

def test_generated_50mb_file_loads(tmp_path):
    """A file ~20x the real one (600k circles, some with unknown fields) loads: every pass of
    the loader is linear in the annotations. Its speed is measured in bench/, not here."""
    n_img, per = 20000, 30

    def ann(k: int) -> str:
        note = ',"note":"generated"' if k % 10 == 0 else ""
        return (f'{{"id":{k},"image_id":{k // per},"coordinates":[{(k * 37) % 3100}.25,{(k * 53) % 3400}.5],'
                f'"radius":{5 + k % 40}.125,"class_name":"acne","score":0.{k % 1000:03d}5{note}}}')

    images = ",".join(f'{{"id":{i},"file_name":"levle{i % 4}_{i}.jpg","width":3112,"height":3456}}'
                      for i in range(n_img))
    annotations = ",".join(ann(k) for k in range(n_img * per))
    path = tmp_path / "big.json"
    path.write_text(f'{{"images":[{images}],"annotations":[{annotations}],"info":{{"description":"generated"}}}}')
    assert path.stat().st_size > 50e6
    ds = load_dataset(path)
    assert len(ds) == n_img and ds.n_lesions == n_img * per
    assert ds.images[-1].circles.score is not None
    assert ds.images[0].ann_extra[0] == {"note": "generated"}


# ---------------------------------------------------------------- the validate command

def test_cli_validate_real_file(real_json, tmp_path, capsys):
    from acnekit.cli import main

    assert main(["validate", str(real_json)]) == 2
    err = capsys.readouterr().err
    assert "levle2_130.jpg" in err and "49 of the 67" in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "fixed.json"
    assert main(["validate", str(real_json), "--fix", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len([ln for ln in lines if "levle2_130.jpg" in ln and "annotation dropped" in ln]) == 49
    assert lines[-1].startswith("49 repairs (annotation.outside: 49)")
    fixed = load_dataset(out)  # the repaired copy passes strict validation
    assert len(fixed) == 1204 and fixed.n_lesions == 32443 - 49


def test_cli_validate_with_images(tmp_path, capsys):
    from PIL import Image

    from acnekit.cli import main

    (tmp_path / "img").mkdir()
    Image.new("RGB", (50, 40)).save(tmp_path / "img" / "levle1_1.jpg")
    Image.new("RGB", (25, 25)).save(tmp_path / "img" / "levle0_2.jpg")
    path = tmp_path / "a.json"
    path.write_text(json.dumps(base()))
    assert main(["validate", str(path), "--images", str(tmp_path / "img")]) == 0
    out = capsys.readouterr().out
    assert "valid: 2 images, 3 lesions" in out and "100x80 -> 50x40: sx=0.5000 sy=0.5000 (uniform)" in out
    (tmp_path / "img" / "levle0_2.jpg").unlink()
    assert main(["validate", str(path), "--images", str(tmp_path / "img"), "--fix", str(tmp_path / "o.json")]) == 2
    assert "levle0_2.jpg" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()  # photos are checked before anything is written
    assert main(["validate", str(path), "--images", str(tmp_path / "img"), "--missing", "skip", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["on_disk"]["missing_names"] == ["levle0_2.jpg"]
