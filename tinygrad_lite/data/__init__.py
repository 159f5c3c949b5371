"""Data: Dataset / TensorDataset / DataLoader / random_split, the bundled MNIST and Pima data sets,
and a CSV reader. Terms of the bundled files: `tinygrad_lite/data/files/PROVENANCE.md`."""

from . import mnist, pima
from .download import DataFileError, DownloadError, cache_dir
from .loader import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split
from .progress import plain_progress, progress
from .tabular import load_csv

__all__ = [
    "DataFileError", "DataLoader", "Dataset", "DownloadError", "Subset", "TensorDataset",
    "cache_dir", "default_collate", "load_csv", "mnist", "pima", "plain_progress", "progress",
    "random_split",
]
