"""Read a release plan's guard from Prometheus' HTTP API (`GET /api/v1/query`).

A query that fails, times out, answers an error or returns no sample gives a `Reading` with no value and
the reason: a guard that cannot be read blocks the next step and is never taken as zero. A query that
returns several series is read as the highest of them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from gate import httpout
from gate.domain.plans import Reading

TIMEOUT = 3.0
Reader = Callable[[str], Reading]


def reader(base_url: str, timeout: float = TIMEOUT) -> Reader:
    """A reader of instant queries against the Prometheus at `base_url`: `timeout` bounds the whole answer,
    and a redirect is not followed (it is an answer that cannot be read)."""
    endpoint = base_url.rstrip("/") + "/api/v1/query"

    def read(query: str) -> Reading:
        try:
            answer = httpout.request("GET", endpoint + "?" + urlencode({"query": query}), timeout=timeout)
        except httpout.HttpError as exc:
            return Reading(error=f"Prometheus could not be read: {exc}")
        if answer.redirect is not None:
            return Reading(error=f"Prometheus answered {answer.status}, a redirect to {answer.redirect}: not followed")
        try:
            body = json.loads(answer.body)
        except ValueError:
            body = None
        if answer.status != 200:
            said = body.get("error") if isinstance(body, dict) else None
            return Reading(error=f"Prometheus answered {answer.status}: {str(said or 'no error given')[:300]}")
        return reading_of(body)

    return read


def reading_of(body: Any) -> Reading:
    """The value of an instant query's answer: a scalar, or the highest sample of a vector."""
    if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(body.get("data"), dict):
        error = body.get("error") if isinstance(body, dict) else None
        return Reading(error=f"the query failed: {str(error or 'not a Prometheus answer')[:300]}")
    data = body["data"]
    kind, result = data.get("resultType"), data.get("result")
    samples: list[Any] = []
    if kind == "scalar":
        samples = [result]
    elif kind == "vector" and isinstance(result, list):
        samples = [series.get("value") for series in result if isinstance(series, dict)]
    else:
        return Reading(error=f"the query must give a scalar or an instant vector, not {kind!r}")
    values = [_number(sample) for sample in samples]
    numbers = [v for v in values if v is not None]
    if not numbers:
        return Reading(error="the query returned no data")
    return Reading(value=max(numbers))


def _number(sample: Any) -> float | None:
    """A sample `[time, "value"]`; NaN (no data in a ratio, say) is no value, not zero."""
    if not isinstance(sample, list) or len(sample) != 2:
        return None
    try:
        value = float(sample[1])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else (value if value == math.inf else None)
