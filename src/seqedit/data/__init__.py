"""Editing datasets (registry, download, normalisation) and the text corpora for layer statistics."""
from .registry import CORPORA, DATASETS, UnknownNameError, get_corpus_spec, get_dataset_spec

__all__ = ["CORPORA", "DATASETS", "UnknownNameError", "get_corpus_spec", "get_dataset_spec"]
