"""Your own data: ``nn.data.load_csv`` and ``deltagrad train --data FILE.csv``, with a clear
error for every kind of bad row, and the held-out accuracy every data set reports."""

from __future__ import annotations

import re

import pytest

import nn
from deltagrad.cli import main
from nn.data import load_csv, make_moons


def run(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as e:  # argparse's own errors
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_rows_without_a_header(tmp_path):
    X, y, classes = load_csv(write(tmp_path, "1,2,0\n3.5,-4e-1,1\n\n0,0,1\n"))
    assert X == [[1.0, 2.0], [3.5, -0.4], [0.0, 0.0]]
    assert y == [0, 1, 1] and classes == ["0", "1"]


def test_a_header_text_labels_a_bom_and_spaces(tmp_path):
    text = ("\ufeffsepal length, sepal width ,species\n5.1, 3.5, setosa\r\n"
            "6.3,3.3,virginica\n7.0,3.2,versicolor\n")
    X, y, classes = load_csv(write(tmp_path, text))
    assert X == [[5.1, 3.5], [6.3, 3.3], [7.0, 3.2]]
    assert classes == ["setosa", "versicolor", "virginica"]  # sorted as text
    assert [classes[c] for c in y] == ["setosa", "virginica", "versicolor"]


def test_numeric_labels_sort_as_numbers(tmp_path):
    X, y, classes = load_csv(write(tmp_path, "0,10\n1,9\n2,-1\n3,9\n"))
    assert classes == ["-1", "9", "10"]
    assert y == [2, 1, 0, 1]


@pytest.mark.parametrize("text, where, what", [
    ("", "", "the file is empty"),
    ("\n  \n", "", "the file is empty"),
    ("x,label\n", "", "has a header (line 1) but no rows of data"),
    ("5\n", ", line 1", "1 column; expected at least two"),
    ("1,2,a\n1,2\n", ", line 2", "2 columns, but the first row has 3"),
    ("x,y,label\n1,2,a\n\n1,2,3,b\n", ", line 4", "4 columns, but the header has 3"),
    ("1,2,a\n1,abc,b\n", ", line 2, column 2", "'abc' is not a number"),
    ("1,2,a\n1,,b\n", ", line 2, column 2", "the field is empty"),
    ("1,2,a\nnan,1,b\n", ", line 2, column 1", "'nan' is not a finite number"),
    ("1,2,a\n1,inf,b\n", ", line 2, column 2", "'inf' is not a finite number"),
    ("1,2,a\n1,2,\n", ", line 2", "the label (the last column) is empty"),
])
def test_bad_rows_name_the_file_line_and_column(tmp_path, text, where, what):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as e:
        load_csv(path)
    assert str(e.value).startswith(f"{path}{where}: ")
    assert what in str(e.value)


def test_text_that_is_not_utf8_names_its_line(tmp_path):
    path = write(tmp_path, "1,2,a\n1,2,caf\xe9\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r", line 2: not UTF-8 text"):
        load_csv(path)


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    path = write(tmp_path, "1,2,a\n" * 100)
    with pytest.raises(ValueError, match="larger than 100 bytes; pass max_bytes="):
        load_csv(path, max_bytes=100)
    assert len(load_csv(path, max_bytes=600)[0]) == 100


def moons_csv(tmp_path, n=60, seed=3):
    X, y = make_moons(n, noise=0.1, seed=seed)
    rows = [f"{a!r},{b!r},{'lower' if c else 'upper'}" for (a, b), c in zip(X, y)]
    return write(tmp_path, "x1,x2,moon\n" + "\n".join(rows) + "\n", "moons.csv"), X, y


def test_train_on_a_csv_file_reports_held_out_accuracy(capsys, tmp_path):
    path, X, y = moons_csv(tmp_path)
    model_path = str(tmp_path / "m.json")
    status, out, err = run(capsys, "train", "--data", path, "--quiet", "--epochs", "30",
                           "--save", model_path)
    assert status == 0, err
    assert f"data:  {path}, 48 samples, 2 features, 2 classes; 12 held out for testing " \
           "(split with seed 1337)" in out
    assert "classes: -1 = lower, +1 = upper" in out  # hinge's labels, sorted class names
    match = re.search(r"training accuracy [\d.]+% \(\d+/48\), test accuracy [\d.]+% \((\d+)/12\)", out)
    assert match
    # the held-out part is train_test_split's with the seed; recount with the saved model
    Xs, ys, _ = load_csv(path)
    _, X_test, _, y_test = nn.data.train_test_split(Xs, ys, test_size=12, seed=1337)
    model = nn.load(model_path)
    right = sum(1 for x, c in zip(X_test, y_test) if (model(x).data > 0) == (c == 1))
    assert right == int(match.group(1))


def test_test_fraction_zero_trains_on_everything(capsys, tmp_path):
    path, _, _ = moons_csv(tmp_path, n=20)
    status, out, err = run(capsys, "train", "--data", path, "--quiet", "--epochs", "2",
                           "--test-fraction", "0", "--loss", "cross_entropy")
    assert status == 0, err
    assert "20 samples, 2 features, 2 classes" in out and "held out" not in out
    assert re.search(r"training accuracy [\d.]+% \(\d+/20\), [\d.]+ s$", out, re.M)
    assert "test accuracy" not in out
    assert "classes: 0 = lower, 1 = upper" in out


def test_generated_data_sets_hold_out_a_fresh_draw(capsys, tmp_path):
    model_path = str(tmp_path / "m.json")
    status, out, err = run(capsys, "train", "--samples", "40", "--epochs", "20", "--quiet",
                           "--test-fraction", "0.25", "--save", model_path)
    assert status == 0, err
    assert "moons, 40 samples, seed 1337; 10 more held out for testing (seed 1338)" in out
    match = re.search(r"test accuracy [\d.]+% \((\d+)/10\)", out)
    X_test, y_test = make_moons(10, noise=0.1, seed=1338, labels="pm1")
    model = nn.load(model_path)
    assert int(match.group(1)) == sum(1 for x, c in zip(X_test, y_test) if (model(x).data > 0) == (c > 0))


@pytest.mark.parametrize("text, argv, message", [
    ("1,2,a\n1,x,b\n", [], "data.csv, line 2, column 2: 'x' is not a number"),
    ("1,2,a\n3,4,a\n", [], "every row has the label 'a'; a classifier needs at least two classes"),
    ("1,2,a\n3,4,b\n", ["--test-fraction", "0.6"], "would hold out 2 of the 2 samples"),
    ("1,2,a\n3,4,b\n", ["--samples", "5"], "--samples is for the generated data sets"),
    ("1,2,a\n3,4,b\n", ["--noise", "0.1"], "--noise is for the generated data sets"),
    ("1,2,a\n3,4,b\n", ["--dataset", "moons"], "not allowed with argument --data"),
    ("1,2,a\n3,4,b\n5,6,c\n", ["--loss", "hinge"], "needs two classes but"),
])
def test_bad_data_files_end_in_one_line(capsys, tmp_path, text, argv, message):
    path = write(tmp_path, text)
    status, out, err = run(capsys, "train", "--data", path, "--quiet", *argv)
    assert status == 2 and message in err and err.count("\n") == 1
    assert "final:" not in out and "Traceback" not in err


def test_a_missing_data_file_is_named(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--data", str(tmp_path / "nope.csv"))
    assert status == 2 and "nope.csv: No such file or directory" in err
