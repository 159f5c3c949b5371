"""The Pima Indians diabetes data (MASS `Pima.tr` / `Pima.te`): 7 features, a 0/1 label.

Features, in order: number of pregnancies, plasma glucose, diastolic blood pressure, triceps skin
fold, body-mass index, diabetes pedigree function, age. The label is 1 for diabetic (WHO
criteria), 0 otherwise. Terms and sources: `files/PROVENANCE.md` (GPL).

>>> from tinygrad_lite.data import pima
>>> X, y = pima.load("train")
>>> X.shape, X.dtype, int(y.sum())
((200, 7), dtype('float64'), 68)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .download import DataFileError, verify_sha256
from .tabular import load_csv

FILES = {"train": "pima_train.csv", "test": "pima_test.csv"}
SHA256 = {
    "pima_train.csv": "45bbbac121966cbf0e1ab3a4f79284f04a78317aa0d6ea16b91c8a7f8bfb1eb1",
    "pima_test.csv": "86a5fdf32e9b097e63a09fcfc0af5ebc92472fd88b163e412f3ec32ee9a52c1b",
}
FEATURES = ("npreg", "glu", "bp", "skin", "bmi", "ped", "age")
BUNDLED_DIR = Path(__file__).resolve().parent / "files" / "pima"


def load(split: str = "train", dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """`(X, y)` of the "train" (200 rows) or "test" (332 rows) split.

    X: (N, 7) in `dtype`, float64 by default: the features differ in scale by ~1000x, and the
    Newton steps of logistic regression solve with X^T W X, which float32 makes needlessly
    inexact. y: (N,) 0.0/1.0 in the same dtype, ready for arithmetic like `X.T @ (p - y)`.
    The raw values are returned unstandardized; the row-index column is dropped.

    >>> X, y = load("test")
    >>> X.shape, sorted(set(y.tolist()))
    ((332, 7), [0.0, 1.0])
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = BUNDLED_DIR / FILES[split]
    if not path.is_file():
        raise DataFileError(f"{path}: the bundled Pima file is missing; reinstall tinygrad_lite")
    verify_sha256(path, SHA256[path.name])
    return load_csv(path, header=True, index_col=True, label_col=-1, dtype=dtype)
