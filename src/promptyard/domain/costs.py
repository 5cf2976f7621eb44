"""Cost of a call from the model price table kept as data (`promptyard/data/model_prices.json`).

Unknown models get no cost rather than a wrong one; a log's own cost always wins."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, float]]:
    raw = json.loads(resources.files("promptyard.data").joinpath("model_prices.json").read_text(encoding="utf-8"))
    return raw["models"]


def price_of(model: str | None) -> dict[str, float] | None:
    """Exact name first, then the longest known prefix ('gpt-4o-2024-08-06' -> 'gpt-4o')."""
    if not model:
        return None
    prices = table()
    if model in prices:
        return prices[model]
    best = max((m for m in prices if model.startswith(m + "-")), key=len, default=None)
    return prices[best] if best else None


def cost(model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
    p = price_of(model)
    if p is None or (input_tokens is None and output_tokens is None):
        return None
    return ((input_tokens or 0) * p["input"] + (output_tokens or 0) * p["output"]) / 1_000_000
