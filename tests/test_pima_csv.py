"""The bundled Pima data and load_csv, with its errors that name the file and the line."""

import hashlib
import shutil

import numpy as np
import pytest

from tinygrad_lite.data import DataFileError, load_csv, pima


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------ pima ----
@pytest.mark.parametrize("split, rows, positives", [("train", 200, 68), ("test", 332, 109)])
def test_pima_shapes_labels_and_dtypes(split, rows, positives):
    X, y = pima.load(split)
    assert X.shape == (rows, 7) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (rows,) and y.dtype == np.float64
    assert set(np.unique(y).tolist()) == {0.0, 1.0}
    assert int(y.sum()) == positives


def test_pima_rows_match_the_file():
    X, y = pima.load("train")
    np.testing.assert_array_equal(X[0], [5, 86, 68, 28, 30.2, 0.364, 24])
    np.testing.assert_array_equal(X[1], [7, 195, 70, 33, 25.1, 0.163, 55])
    assert y[:2].tolist() == [0.0, 1.0]
    assert X[:, 6].min() >= 21  # age: adults only (the row index column was dropped)


def test_pima_float32_on_request():
    X, y = pima.load("test", dtype=np.float32)
    assert X.dtype == np.float32 and y.dtype == np.float32


def test_pima_checksum_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(pima, "BUNDLED_DIR", tmp_path)
    with pytest.raises(DataFileError, match=r"pima_train\.csv: the bundled Pima file is missing"):
        pima.load("train")
    shutil.copy(pima.__file__.replace("pima.py", "files/pima/pima_train.csv"), tmp_path)
    path = tmp_path / "pima_train.csv"
    path.write_text(path.read_text().replace("30.2", "30.3", 1))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DataFileError, match=f"expected {pima.SHA256['pima_train.csv']}, "
                                            f"got {actual}"):
        pima.load("train")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        pima.load("validation")


# -------------------------------------------------------------------------------- load_csv ----
def test_load_csv_default_layout(tmp_path):
    path = _csv(tmp_path, "id,a,b,label\n1,0.5,2,1\n2,1.5,-3e2,0\n\n")  # a trailing blank line
    X, y = load_csv(path)
    np.testing.assert_array_equal(X, [[0.5, 2.0], [1.5, -300.0]])
    np.testing.assert_array_equal(y, [1.0, 0.0])
    assert X.dtype == np.float64 and y.dtype == np.float64


def test_load_csv_options(tmp_path):
    path = _csv(tmp_path, "7,1,2\n8,3,4\n")
    X, y = load_csv(path, header=False, index_col=False, label_col=0, dtype=np.float32,
                    label_dtype=np.int64)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert X.dtype == np.float32 and y.dtype == np.int64 and y.tolist() == [7, 8]
    X, y = load_csv(path, header=False, index_col=False, label_col=None)
    assert X.shape == (2, 3) and y is None
    X, y = load_csv(path, header=False, index_col=1, label_col=-1)
    np.testing.assert_array_equal(X, [[7], [8]])
    X, y = load_csv(_csv(tmp_path, "a;b\n1;2\n", "semi.csv"), index_col=False, delimiter=";")
    assert X.tolist() == [[1.0]] and y.tolist() == [2.0]


def test_load_csv_handles_bom_quotes_and_spaces(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufeff1,"2.5", 1 \n'.encode())  # Excel's byte-order mark, then data
    X, y = load_csv(path, header=False, index_col=False)
    assert X.tolist() == [[1.0, 2.5]] and y.tolist() == [1.0]


def test_load_csv_wrong_field_count_names_line(tmp_path):
    path = _csv(tmp_path, "id,a,b,label\n1,0.5,2,1\n2,1.5,0\n")
    with pytest.raises(DataFileError, match=r"data\.csv, line 3: expected 4 fields \(like the "
                                            r"header\), found 3: '2,1.5,0'"):
        load_csv(path)
    path = _csv(tmp_path, "1,2\n3,4\n5,6,7\n", "noheader.csv")
    with pytest.raises(DataFileError, match=r"noheader\.csv, line 3: expected 2 fields \(like "
                                            r"line 1\), found 3"):
        load_csv(path, header=False)


def test_load_csv_line_numbers_count_header_and_blank_lines(tmp_path):
    path = _csv(tmp_path, "id,a,label\n1,2,0\n\n3,oops,1\n")
    with pytest.raises(DataFileError, match=r"data\.csv, line 4, field 2 \('a'\): 'oops' is not "
                                            r"a number"):
        load_csv(path)


@pytest.mark.parametrize("value", ["", "1,5", "abc", "--1"])
def test_load_csv_non_numeric_values(tmp_path, value):
    path = _csv(tmp_path, f'id,a,label\n1,2,0\n2,"{value}",1\n')
    with pytest.raises(DataFileError, match=rf"line 3, field 2 \('a'\): '{value}' is not a"):
        load_csv(path)


def test_load_csv_empty_and_bad_columns(tmp_path):
    with pytest.raises(DataFileError, match="no data rows"):
        load_csv(_csv(tmp_path, "id,a,label\n"))
    with pytest.raises(DataFileError, match="no data rows"):
        load_csv(_csv(tmp_path, "", "empty.csv"))
    path = _csv(tmp_path, "id,a,label\n1,2,3\n", "ok.csv")
    with pytest.raises(ValueError, match="label_col=5 is out of range .* 3 columns"):
        load_csv(path, label_col=5)
    with pytest.raises(ValueError, match="index_col and label_col both name column 0 \\('id'\\)"):
        load_csv(path, label_col=0)
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "nope.csv")


def test_load_csv_matches_numpy_on_pima():
    path = pima.BUNDLED_DIR / "pima_test.csv"
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = load_csv(path)
    np.testing.assert_array_equal(X, table[:, 1:-1])
    np.testing.assert_array_equal(y, table[:, -1])


# ----------------------------------------------------------------------- bad files, bad dtypes ----
def test_load_csv_non_utf8_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,label\n1,0\n" + b"2,0\n" * 5000 + "3,\u00e9\n".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"latin1\.csv, line 5003: not UTF-8 text \(byte 0xe9"):
        load_csv(path, index_col=False)


def test_load_csv_oversized_field_names_the_file_and_line(tmp_path):
    path = _csv(tmp_path, "a,label\n1,0\n1," + "9" * 200_000 + "\n", "big.csv")
    with pytest.raises(DataFileError, match=r"big\.csv, line 3: field larger than field limit"):
        load_csv(path, index_col=False)


@pytest.mark.parametrize("value", ["0.5", "nan", "inf", "-1e30", "9.3e18"])
def test_load_csv_integer_labels_refuse_values_they_would_change(tmp_path, value):
    path = _csv(tmp_path, f"a,label\n1,0\n2,1\n3,{value}\n", "labels.csv")
    with pytest.raises(DataFileError, match=r"labels\.csv, line 4, field 2 \('label'\): .* is not an "
                                            r"integer .* int64"):
        load_csv(path, index_col=False, label_dtype=np.int64)
    X, y = load_csv(path, index_col=False)  # float labels keep the value
    assert y.dtype == np.float64 and y[:2].tolist() == [0.0, 1.0]


def test_load_csv_integer_and_bool_dtypes_keep_exact_values(tmp_path):
    path = _csv(tmp_path, "a,label\n-3,0\n7,1\n", "ints.csv")
    X, y = load_csv(path, index_col=False, dtype=np.int32, label_dtype=bool)
    assert X.dtype == np.int32 and X.ravel().tolist() == [-3, 7]
    assert y.dtype == np.bool_ and y.tolist() == [False, True]
    with pytest.raises(DataFileError, match=r"line 2, field 1 \('a'\): -3.0 is not an integer"):
        load_csv(path, index_col=False, dtype=np.uint8)
    path = _csv(tmp_path, "a,label\n1,2\n", "notbool.csv")
    with pytest.raises(DataFileError, match=r"line 2, field 2 \('label'\): 2.0 is not 0 or 1"):
        load_csv(path, index_col=False, label_dtype=bool)


def test_load_csv_float32_overflow_is_refused(tmp_path):
    path = _csv(tmp_path, "a,label\n1e39,0\n", "huge.csv")
    with pytest.raises(DataFileError, match=r"huge\.csv, line 2, field 1 \('a'\): 1e\+39 is not a "
                                            r"value within the range of float32"):
        load_csv(path, index_col=False, dtype=np.float32)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dtype": np.complex64}, TypeError, "dtype must be a bool, integer or floating-point"),
    ({"label_dtype": "not a dtype"}, TypeError, "label_dtype must be a numpy dtype"),
    ({"label_col": 1.5}, TypeError, "label_col must be an int"),
    ({"index_col": "id"}, TypeError, "index_col must be an int"),
])
def test_load_csv_arguments_are_checked(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_csv(_csv(tmp_path, "id,a,label\n1,2,3\n"), **kwargs)
