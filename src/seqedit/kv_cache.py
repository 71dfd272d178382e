"""Key/value-cache compatibility across transformers versions: recent model classes take ``cache=``
(``past_key_values`` is deprecated there), older ones ``past_key_values=``; outputs name it likewise."""
from __future__ import annotations

import inspect


def cache_keyword(model) -> str:
    """The keyword ``model.forward`` takes its key/value cache by: ``cache`` or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def cache_kwarg(model, cache) -> dict:
    """``{keyword: cache}`` to pass to ``model(...)``."""
    return {cache_keyword(model): cache}


def returned_cache(output):
    """The key/value cache a forward pass returned, or None."""
    return getattr(output, "cache", None) or getattr(output, "past_key_values", None)
