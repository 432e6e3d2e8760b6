"""Read a release plan's guard from Prometheus' HTTP API (`GET /api/v1/query`).

A query that fails, times out, answers an error or returns no sample gives a `Reading` with no value and
the reason: a guard that cannot be read blocks the next step and is never taken as zero. A query that
returns several series is read as the highest of them.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from gate.domain.plans import Reading

TIMEOUT = 3.0
Reader = Callable[[str], Reading]


def reader(base_url: str, timeout: float = TIMEOUT) -> Reader:
    """A reader of instant queries against the Prometheus at `base_url`."""
    endpoint = base_url.rstrip("/") + "/api/v1/query"

    def read(query: str) -> Reading:
        request = urllib.request.Request(endpoint + "?" + urlencode({"query": query}), method="GET")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the operator's URL
                body = json.loads(response.read(1_048_576))
        except urllib.error.HTTPError as exc:
            return Reading(error=f"Prometheus answered {exc.code}: {_error_of(exc)}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return Reading(error=f"Prometheus could not be read: {getattr(exc, 'reason', exc)}")
        return reading_of(body)

    return read


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read(65_536)).get("error", exc.reason))[:300]
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)[:300]


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
