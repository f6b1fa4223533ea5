"""`acnekit split`: reproducible, stratified, duplicate-aware, written atomically."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.dataset import AcneDataset, ImageRecord, load_dataset
from acnekit.errors import DatasetError, OutputError
from acnekit.atomic import MANIFEST
from acnekit.split import make_split, split_files, strata_labels, write_files


def dataset(n_per_grade=(40, 30, 20, 10), shuffle_seed: int | None = None) -> AcneDataset:
    ims, k = [], 0
    for g, n in enumerate(n_per_grade):
        for i in range(n):
            c = (k * 7) % 70
            ims.append(ImageRecord(k, f"levle{g}_{i}.jpg", 100, 100, Circles(np.full((c, 2), 50.0), np.ones(c))))
            k += 1
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(ims))
        ims = [ims[i] for i in order]
    return AcneDataset(ims)


def assignment(ds, split) -> dict[str, str]:
    return {im.file_name: split.part_names[p] for im, p in zip(ds.images, split.part_of.tolist())}


def test_same_seed_same_split_other_seed_other_split():
    ds = dataset()
    a = make_split(ds, folds=5, seed=3)
    b = make_split(ds, folds=5, seed=3)
    c = make_split(ds, folds=5, seed=4)
    assert np.array_equal(a.part_of, b.part_of)
    assert not np.array_equal(a.part_of, c.part_of)


def test_split_does_not_depend_on_file_order():
    a, b = dataset(), dataset(shuffle_seed=1)
    assert assignment(a, make_split(a, val_fraction=0.25, seed=9)) == assignment(b, make_split(b, val_fraction=0.25, seed=9))


def test_kfold_is_a_stratified_partition():
    ds = dataset()
    s = make_split(ds, folds=5, seed=0)
    assert set(s.part_of.tolist()) == set(range(5))
    sizes = Counter(s.part_of.tolist())
    assert max(sizes.values()) - min(sizes.values()) <= 1
    labels = strata_labels(ds, "grade")
    for g, n in zip(range(4), (40, 30, 20, 10)):
        per_fold = Counter(p for p, lab in zip(s.part_of.tolist(), labels) if lab == f"levle{g}")
        assert all(v == n // 5 for v in per_fold.values()) and sum(per_fold.values()) == n


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5])
def test_val_fraction_per_stratum(fraction):
    ds = dataset()
    s = make_split(ds, val_fraction=fraction, seed=0)
    labels = strata_labels(ds, "grade")
    for g, n in zip(range(4), (40, 30, 20, 10)):
        n_val = sum(1 for p, lab in zip(s.part_of.tolist(), labels) if lab == f"levle{g}" and p == 1)
        assert abs(n_val - fraction * n) <= 1


def test_hayashi_and_none_strata():
    ds = dataset()
    hay = strata_labels(ds, "hayashi")
    assert set(hay) <= {"hayashi0", "hayashi1", "hayashi2", "hayashi3"} and len(set(hay)) == 4
    assert set(strata_labels(ds, "none")) == {"all"}
    no_prefix = AcneDataset([ImageRecord(0, "photo.jpg", 10, 10)])
    assert strata_labels(no_prefix, "grade") == ["hayashi0"]  # no prefix: falls back to the count's grade


def test_groups_stay_together():
    ds = dataset()
    groups = [["levle0_0.jpg", "levle0_1.jpg", "levle3_2.jpg"], ["levle1_5.jpg", "levle1_6.jpg"]]
    for seed in range(10):
        part = assignment(ds, make_split(ds, folds=4, seed=seed, groups=groups))
        for g in groups:
            assert len({part[n] for n in g}) == 1
    assert make_split(ds, folds=4, groups=groups).groups == sorted(sorted(g) for g in groups)


def test_bad_parameters():
    ds = dataset((3,))
    with pytest.raises(DatasetError, match="at least 2"):
        make_split(ds, folds=1)
    with pytest.raises(DatasetError, match="between 0 and 1"):
        make_split(ds, val_fraction=1.0)
    with pytest.raises(DatasetError, match="cannot fill 4 parts"):
        make_split(ds, folds=4)
    with pytest.raises(DatasetError, match="empty"):
        make_split(dataset((1, 1)), val_fraction=0.1)
    with pytest.raises(ValueError):
        make_split(ds)


def test_files_are_complete_acne04_subsets(tmp_path):
    ds = dataset()
    s = make_split(ds, folds=3, seed=1)
    files = split_files(s, ds, manifest={"seed": 1})
    write_files(tmp_path / "out", files)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, MANIFEST])  # no staging folder left
    all_names = {im.file_name for im in ds}
    vals = []
    for k in range(3):
        train = load_dataset(out / f"fold{k}_train.json")
        val = load_dataset(out / f"fold{k}_val.json")
        names_t = (out / f"fold{k}_train.txt").read_text().split()
        names_v = (out / f"fold{k}_val.txt").read_text().split()
        assert [im.file_name for im in train] == names_t and [im.file_name for im in val] == names_v
        assert set(names_t) | set(names_v) == all_names and not set(names_t) & set(names_v)
        assert train.n_lesions + val.n_lesions == ds.n_lesions
        vals += names_v
    assert sorted(vals) == sorted(all_names)  # every image is validated exactly once
    manifest = json.loads((out / "split.json").read_text())
    assert manifest["seed"] == 1 and sum(p["images"] for p in manifest["parts"].values()) == len(ds)


def test_write_refuses_existing_outputs_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "val.txt").write_text("keep me\n")
    with pytest.raises(OutputError, match="exists"):
        write_files(out, {"train.txt": "a\n", "val.txt": "b\n"})
    assert sorted(p.name for p in out.iterdir()) == ["val.txt"] and (out / "val.txt").read_text() == "keep me\n"
    write_files(out, {"train.txt": "a\n", "val.txt": "b\n"}, overwrite=True)
    assert (out / "val.txt").read_text() == "b\n"


def test_write_never_overwrites_the_input(tmp_path):
    src = tmp_path / "train.json"
    src.write_text("{}")
    with pytest.raises(OutputError, match="input"):
        write_files(tmp_path, {"train.json": "x"}, overwrite=True, inputs=[src])
    assert src.read_text() == "{}"


def test_write_into_missing_parent_is_clear(tmp_path):
    with pytest.raises(OutputError, match="parent folder does not exist"):
        write_files(tmp_path / "a" / "b", {"x.txt": "1"})


def write_json(tmp_path, names) -> str:
    obj = {"images": [{"id": k, "file_name": n, "width": 64, "height": 64} for k, n in enumerate(names)],
           "annotations": [{"id": k, "image_id": k, "coordinates": [10, 10], "radius": 2} for k in range(len(names))]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(obj))
    return str(path)


def test_cli_split_keeps_byte_identical_photos_together(tmp_path, capsys):
    names = [f"levle{k % 2}_{k}.png" for k in range(12)]
    img = tmp_path / "img"
    img.mkdir()
    for k, n in enumerate(names):
        Image.fromarray(np.full((8, 8, 3), k * 10, np.uint8)).save(img / n)
    shutil.copy(img / names[0], img / names[5])  # byte-identical pair, different grades
    path = write_json(tmp_path, names)
    for seed in range(6):
        out = tmp_path / f"out{seed}"
        assert main(["split", path, "--out", str(out), "--folds", "3", "--seed", str(seed),
                     "--images", str(img), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["kept_together"] == [[names[0], names[5]]]
        part_of = json.loads((out / "split.json").read_text())["part_of"]
        assert part_of[names[0]] == part_of[names[5]]


def test_cli_split_text_and_reproducible_files(tmp_path, capsys):
    path = write_json(tmp_path, [f"levle{k % 3}_{k}.jpg" for k in range(30)])
    assert main(["split", path, "--out", str(tmp_path / "a"), "--val-fraction", "0.2", "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert "train" in text and "val" in text and "wrote 5 files" in text
    assert main(["split", path, "--out", str(tmp_path / "b"), "--val-fraction", "0.2", "--seed", "7"]) == 0
    for name in ("train.json", "val.json", "train.txt", "val.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert main(["split", path, "--out", str(tmp_path / "a"), "--val-fraction", "0.2"]) == 2  # exists
    assert "exists" in capsys.readouterr().err


def test_cli_split_needs_exactly_one_mode(tmp_path, capsys):
    path = write_json(tmp_path, ["levle0_1.jpg", "levle0_2.jpg"])
    with pytest.raises(SystemExit) as exc:
        main(["split", path, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["split", path, "--out", str(tmp_path / "o"), "--folds", "2", "--val-fraction", "0.5"])


def test_real_file_needs_fix_then_splits(real_json, tmp_path, capsys):
    assert main(["split", str(real_json), "--out", str(tmp_path / "o"), "--folds", "5"]) == 2
    assert "levle2_130.jpg" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["split", str(real_json), "--out", str(tmp_path / "o"), "--folds", "5", "--fix", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["repairs"] == 49
    assert sum(p["images"] for p in info["parts"].values()) == 1204
    for p in info["parts"].values():
        assert abs(p["by_stratum"]["levle1"] - 579 / 5) <= 1


def test_overlapping_groups_merge():
    ds = dataset()
    groups = [["levle0_0.jpg", "levle0_1.jpg"], ["levle0_1.jpg", "levle2_3.jpg"]]
    s = make_split(ds, folds=5, seed=2, groups=groups)
    part = assignment(ds, s)
    assert len({part[n] for n in ("levle0_0.jpg", "levle0_1.jpg", "levle2_3.jpg")}) == 1
    assert s.groups == [["levle0_0.jpg", "levle0_1.jpg", "levle2_3.jpg"]]


def test_cli_split_near_duplicates_with_near_bits(tmp_path, capsys):
    names = [f"levle{k % 2}_{k}.png" for k in range(10)]
    img = tmp_path / "img"
    img.mkdir()
    rng = np.random.default_rng(0)
    for n in names:
        small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC).save(img / n)
    Image.open(img / names[1]).resize((40, 40)).save(img / names[6])  # a resized copy: near duplicate
    path = write_json(tmp_path, names)
    assert main(["split", path, "--out", str(tmp_path / "o"), "--folds", "2", "--images", str(img),
                 "--near-bits", "30", "--json"]) == 0
    assert sorted([names[1], names[6]]) in json.loads(capsys.readouterr().out)["kept_together"]
    assert main(["split", path, "--out", str(tmp_path / "p"), "--folds", "2", "--near-bits", "30"]) == 2
    assert "--near-bits needs --images" in capsys.readouterr().err


def test_force_removes_an_earlier_splits_extra_folds_only(tmp_path):
    ds = dataset()
    out = tmp_path / "out"
    out.mkdir()
    (out / "fold9_mine.txt").write_text("mine\n")
    write_files(out, split_files(make_split(ds, folds=5, seed=1), ds, manifest={}))
    assert (out / "fold4_val.json").exists()
    write_files(out, split_files(make_split(ds, folds=3, seed=1), ds, manifest={}), overwrite=True)
    assert not (out / "fold4_val.json").exists() and (out / "fold2_val.json").exists()
    assert (out / "fold9_mine.txt").read_text() == "mine\n"
