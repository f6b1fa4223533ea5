import numpy as np
import pytest

from acnekit.grading import (COUNT_CAVEAT, HAYASHI_UPPER, band_labels, filename_grade, grade_name, hayashi_grade,
                             parse_bands)


@pytest.mark.parametrize("count, grade", [(0, 0), (5, 0), (6, 1), (20, 1), (21, 2), (50, 2), (51, 3), (400, 3)])
def test_hayashi_band_edges(count, grade):
    assert int(hayashi_grade(count)) == grade


def test_vectorised_and_custom_bands():
    assert hayashi_grade([0, 3, 4, 10], (3, 9)).tolist() == [0, 0, 1, 2]
    assert band_labels((3, 9)) == ["0-3", "4-9", ">9"]
    assert band_labels(HAYASHI_UPPER) == ["0-5", "6-20", "21-50", ">50"]
    assert grade_name(3) == "very severe" and grade_name(1, (3, 9)) == "grade 1"


@pytest.mark.parametrize("text", ["5,20,x", "20,5", "-1,3", ""])
def test_parse_bands_errors(text):
    with pytest.raises(ValueError, match="bands must be"):
        parse_bands(text)


def test_parse_bands_ok():
    assert parse_bands("5,20,50") == (5, 20, 50)


@pytest.mark.parametrize("name, grade", [("levle2_130.jpg", 2), ("levle0_1.jpg", 0), ("level2_1.jpg", None),
                                         ("photo.jpg", None)])
def test_filename_grade(name, grade):
    assert filename_grade(name) == grade


def test_caveat_states_agreement():
    assert "31%" in COUNT_CAVEAT and "1204" in COUNT_CAVEAT


def test_monotone_in_count():
    c = np.arange(0, 300)
    g = hayashi_grade(c)
    assert (np.diff(g) >= 0).all()
