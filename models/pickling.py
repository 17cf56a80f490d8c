"""Fitted models as bytes that depend on the model only (no Dagster, no DuckDB).

The pipeline keeps fitted models in its own warehouse between nights (pickle: only ever read back
from there, never from input data). The same model must give the same bytes in any process, or
a warehouse would differ from night to night with nothing changed. A scikit-learn
TfidfVectorizer remembers the memory address of its stop-word list (`_stop_words_id`, a cache key
that only saves a consistency check); it is cleared before pickling.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer


def stable_pickle(model: Any, vectorizers: Iterable[Any]) -> bytes:
    """`model` pickled (protocol 5) after clearing the address cache of its `vectorizers`."""
    for vectorizer in vectorizers:
        if isinstance(vectorizer, TfidfVectorizer) and hasattr(vectorizer, "_stop_words_id"):
            del vectorizer._stop_words_id
    return pickle.dumps(model, protocol=5)
