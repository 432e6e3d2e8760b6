"""Reading a guard from Prometheus' answer: a value, the highest of several series, or why there is none."""

from __future__ import annotations

from typing import Any

import pytest

from gate.domain.plans import Reading
from gate.services.prometheus import reader, reading_of
from tests.receivers import MetricSource


def vector(*values: Any) -> dict[str, Any]:
    result = [{"metric": {"i": str(i)}, "value": [1.0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@pytest.mark.parametrize(
    ("body", "reading"),
    [
        (vector("0.25"), Reading(value=0.25)),
        (vector("0.1", "0.7", "0.3"), Reading(value=0.7)),  # several series: the highest
        (vector("NaN", "0.2"), Reading(value=0.2)),  # NaN is no sample, not zero
        (vector("+Inf"), Reading(value=float("inf"))),
        (vector(), Reading(error="the query returned no data")),
        (vector("NaN"), Reading(error="the query returned no data")),
        (vector("many"), Reading(error="the query returned no data")),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}}, Reading(value=3.0)),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            Reading(error="the query must give a scalar or an instant vector, not 'matrix'"),
        ),
        ({"status": "error", "error": "parse error"}, Reading(error="the query failed: parse error")),
        ([1, 2], Reading(error="the query failed: not a Prometheus answer")),
        (
            {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1.0]}, "x"]}},
            Reading(error="the query returned no data"),
        ),
    ],
)
def test_an_answer_reads_as_a_value_or_says_why_not(body: Any, reading: Reading) -> None:
    assert reading_of(body) == reading


def test_the_reader_over_http(metric: MetricSource) -> None:
    read = reader(metric.url + "/")
    metric.value = "0.4"
    assert read("sum(up)") == Reading(value=0.4) and metric.queries == ["sum(up)"]
    metric.status = 503
    assert read("up") == Reading(error="Prometheus answered 503: parse error at char 1")
    nowhere = reader("http://127.0.0.1:9", timeout=2)("up")
    assert (
        nowhere.value is None and nowhere.error is not None and nowhere.error.startswith("Prometheus could not be read")
    )
