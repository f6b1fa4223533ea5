"""CSV rows: exact round trips, empty images, bad input naming line and column."""

from __future__ import annotations

import json

import pytest
from _formats_gen import datasets
from hypothesis import given, settings

from acnekit.errors import DatasetError
from acnekit.formats import read_dataset, write_dataset
from acnekit.formats.csv import COLUMNS, csv_to_dataset, dataset_to_csv, load_csv

HEAD = "file_name,width,height,x,y,radius,score,class_name\n"


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_round_trip_generated(ds):
    back = csv_to_dataset(dataset_to_csv(ds))
    assert back.equals(ds)


def test_header_and_empty_image():
    ds = csv_to_dataset(HEAD + "a.jpg,100,80,10,20,5,0.5,acne\nb.jpg,30,30,,,,,\n")
    assert [(im.file_name, im.count) for im in ds.images] == [("a.jpg", 1), ("b.jpg", 0)]
    text = dataset_to_csv(ds)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert text.splitlines()[2] == "b.jpg,30,30,,,,,,1,"


@pytest.mark.parametrize("text, where, msg", [
    # missing column
    ("file_name,width,height,x,y,score\na.jpg,1,1,0,0,1\n", "line 1", "missing column 'radius'"),
    # not a number
    (HEAD + "a.jpg,100,80,ten,20,5,,\n", "line 2, column 'x'", "x must be a number, got \"ten\""),
    # negative radius
    (HEAD + "a.jpg,100,80,10,20,-5,,\n", "line 2, column 'radius'", "radius must be positive"),
    # fractional width
    (HEAD + "a.jpg,100.5,80,10,20,5,,\n", "line 2, column 'width'", "width must be an integer"),
    # size changes between rows of one image
    (HEAD + "a.jpg,100,80,10,20,5,,\na.jpg,90,80,10,20,5,,\n", "line 3, column 'width'", "differs"),
    # only x given
    (HEAD + "a.jpg,100,80,10,,,,\n", "line 2, column 'y'", "y must be a number"),
    # centre outside the image
    (HEAD + "a.jpg,100,80,10,200,5,,\n", "line 2", "outside the 100x80 image"),
    # too many cells
    (HEAD + "a.jpg,100,80,10,20,5,,acne,extra\n", "line 2", "more cells than columns"),
])
def test_bad_csv(text, where, msg):
    with pytest.raises(DatasetError) as err:
        csv_to_dataset(text, "in.csv")
    assert err.value.where.startswith(where) and msg in str(err.value) and "in.csv" in str(err.value)


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DatasetError, match="empty"):
        load_csv(tmp_path / "e.csv")


def test_real_round_trip(real_json, tmp_path):
    ds, _ = read_dataset(real_json, keep_outside=True)
    out = write_dataset(ds, "csv", tmp_path / "all.csv")
    back, _ = read_dataset(out, keep_outside=True)
    back.info = ds.info  # CSV has no place for the info block
    assert back.equals(ds)
    assert back.to_dict() == json.loads(real_json.read_text())
