"""Pascal VOC: round trips, the real 640 VOC folder with per-class counts, bad XML."""

from __future__ import annotations

import collections
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from _formats_gen import assert_circles_close, datasets
from hypothesis import given, settings

from acnekit.errors import DatasetError
from acnekit.formats import detect_format, read_dataset, write_dataset
from acnekit.formats._util import UNNAMED_CLASS
from acnekit.formats.voc import dataset_to_voc, load_voc, voc_xml_to_record, xml_name

GOOD = """<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>
<object><name>papules</name><bndbox><xmin>10</xmin><ymin>20</ymin><xmax>30</xmax><ymax>30</ymax></bndbox></object>
</annotation>"""


@settings(max_examples=50, deadline=None)
@given(datasets())
def test_round_trip_generated(ds):
    docs = dataset_to_voc(ds)
    assert len(docs) == len(ds)
    for k, im in enumerate(ds.images):
        back = voc_xml_to_record(docs[xml_name(im.file_name)], "x.xml", k)
        assert (back.file_name, back.width, back.height) == (im.file_name, im.width, im.height)
        assert back.circles.xyr.tolist() == im.circles.xyr.tolist()  # exact, from <circle>
        assert_circles_close(im.circles, back.circles, atol=0)
        names = [UNNAMED_CLASS if im.circles.class_name is None or n is None else n
                 for n in (im.circles.class_name if im.circles.class_name is not None else [None] * im.count)]
        assert (back.circles.class_name.tolist() if back.count else []) == names


def test_box_read_and_written_back():
    rec = voc_xml_to_record(GOOD, "a.xml", 0, radius_rule="min")
    assert rec.circles.xyr.tolist() == [[20, 25, 5]] and rec.circles.class_name.tolist() == ["papules"]
    assert rec.ann_extra == [{"box": [10, 20, 30, 30]}]
    from acnekit.dataset import AcneDataset

    xml = dataset_to_voc(AcneDataset([rec]))["a.xml"]
    box = ET.fromstring(xml).find("object/bndbox")
    assert [box.findtext(t) for t in ("xmin", "ymin", "xmax", "ymax")] == ["10", "20", "30", "30"]


@pytest.mark.parametrize("text, where, msg", [
    # broken XML: unclosed tag
    (GOOD.replace("</annotation>", ""), "line 3, column", "broken XML"),
    # not VOC
    ("<html/>", "/", "root element must be <annotation>"),
    # no size
    (GOOD.replace("<size><width>100</width><height>80</height></size>", ""), "annotation", "missing <size>"),
    # zero width
    (GOOD.replace("<width>100</width>", "<width>0</width>"), "annotation/size", "width must be a positive"),
    # text in a box coordinate
    (GOOD.replace("<xmin>10</xmin>", "<xmin>ten</xmin>"), "annotation/object[1]/bndbox/xmin", "must be a number"),
    # xmax < xmin
    (GOOD.replace("<xmax>30</xmax>", "<xmax>5</xmax>"), "annotation/object[1]/bndbox", "width must be positive"),
    # object without a name
    (GOOD.replace("<name>papules</name>", ""), "annotation/object[1]", "missing <name>"),
    # path in the file name
    (GOOD.replace("a.jpg", "../a.jpg"), "annotation/filename", "path separator"),
])
def test_bad_xml(text, where, msg):
    with pytest.raises(DatasetError) as err:
        voc_xml_to_record(text, "bad.xml", 0)
    assert err.value.where.startswith(where) and msg in str(err.value) and "bad.xml" in str(err.value)


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no .xml files"):
        load_voc(tmp_path)
    (tmp_path / "a.xml").write_text(GOOD)
    (tmp_path / "b.xml").write_text(GOOD)
    with pytest.raises(DatasetError, match="'a.jpg' is also named in a.xml"):
        load_voc(tmp_path)


def test_real_voc_folder_counts(acne640, tmp_path):
    folder = acne640 / "voc"
    files = sorted(folder.glob("*.xml"))
    want = collections.Counter()
    per_image = {}
    for f in files:
        root = ET.parse(f).getroot()
        names = [o.findtext("name") for o in root.findall("object")]
        want.update(names)
        per_image[root.findtext("filename")] = len(names)
    assert detect_format(folder) == "voc"
    ds, _ = read_dataset(folder)
    got = collections.Counter(n for im in ds.images if im.count for n in im.circles.class_name)
    assert got == want and len(want) == 4
    assert {im.file_name: im.count for im in ds.images} == per_image
    assert all((im.width, im.height) == (640, 640) for im in ds.images)
    # VOC -> VOC keeps every box exactly
    out = write_dataset(ds, "voc", tmp_path / "voc")
    back = load_voc(out)
    for a, b in zip(ds.images, back.images):
        assert a.file_name == b.file_name and a.ann_extra == b.ann_extra
        np.testing.assert_array_equal(a.circles.xyr, b.circles.xyr)
