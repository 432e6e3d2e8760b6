"""Readers for the reports CI writes, told apart by their content (contract §8.2).

XML goes through defusedxml's expat parser fed chunk by chunk, with a target that counts and builds no
tree: a DTD or an entity stops it (nothing is expanded, no file or URL is read), and a 10 MiB JUnit report
costs a few kilobytes of memory. defusedxml rather than lxml: the same hardening of the standard library's
expat, pure Python, no native library to keep patched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from gate.domain.evidence import LEVELS, MAX_COUNT, MAX_MEASURE, MEASURE_NAME, finite

XML_TYPES = frozenset({"application/xml", "text/xml"})
JSON_TYPES = frozenset({"application/json", "application/sarif+json"})
LCOV_TYPES = frozenset({"text/plain"})
MEDIA_TYPES = XML_TYPES | JSON_TYPES | LCOV_TYPES
MAX_MEASURES = 1000
NO_TOTALS = "the coverage report gives neither lines-valid and lines-covered nor a line-rate from 0 to 1"


class ReportError(ValueError):
    """A report that cannot be read, in words that say why."""


@dataclass(frozen=True)
class Report:
    """What a report says: its kind (the criterion kind it can decide), its format and its summary."""

    kind: str
    format: str
    summary: dict[str, Any]


def read_report(chunks: Iterable[bytes], media_type: str) -> Report:
    """Read a report of `media_type` from its bytes, by its content. Raises ReportError."""
    if media_type in XML_TYPES:
        return _read_xml(chunks)
    data = b"".join(chunks)
    if media_type in JSON_TYPES:
        return _read_json(data)
    return _read_lcov(data)


# ---- XML: JUnit and Cobertura ----------------------------------------------------------------------


@dataclass
class _Suite:
    attrs: dict[str, str]
    passed: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class _Target:
    """An expat target that keeps counts, never elements."""

    root: str | None = None
    root_attrs: dict[str, str] = field(default_factory=dict)
    suites: list[_Suite] = field(default_factory=list)
    case: list[str] | None = None  # the outcome of the test case being read
    total: _Suite = field(default_factory=lambda: _Suite({}))

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root, self.root_attrs = tag, dict(attrs)
            if tag not in ("testsuites", "testsuite", "coverage"):
                raise ReportError(
                    f"an XML report must be JUnit (<testsuites> or <testsuite>) or Cobertura (<coverage>), not <{tag}>"
                )
        if tag == "testsuite":  # (Cobertura has no suites or cases: counting them there counts nothing)
            self.suites.append(_Suite(dict(attrs)))
        elif tag == "testcase":
            self.case = []
        elif self.case is not None and tag in ("failure", "error", "skipped"):
            self.case.append(tag)

    def end(self, tag: str) -> None:
        if tag == "testcase" and self.case is not None:
            into = self.suites[-1] if self.suites else self.total
            if "failure" in self.case or "error" in self.case:
                into.failed += 1
            elif "skipped" in self.case:
                into.skipped += 1
            else:
                into.passed += 1
            self.case = None
        elif tag == "testsuite":
            suite = self.suites.pop()
            passed, failed, skipped = _suite_counts(suite)
            into = self.suites[-1] if self.suites else self.total
            into.passed, into.failed, into.skipped = into.passed + passed, into.failed + failed, into.skipped + skipped

    def data(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _suite_counts(suite: _Suite) -> tuple[int, int, int]:
    """A suite's passed, failed and skipped: as its attributes write them (failed = failures + errors), or, when
    it writes no `tests`, as its test cases and inner suites add up."""
    attrs = suite.attrs
    if "tests" not in attrs:
        return suite.passed, suite.failed, suite.skipped
    tests = _attr_count(attrs, "tests")
    failed = _attr_count(attrs, "failures") + _attr_count(attrs, "errors")
    skipped = _attr_count(attrs, "skipped")
    if failed + skipped > tests:
        raise ReportError(f"a test suite counts {failed} failed and {skipped} skipped of only {tests} tests")
    return tests - failed - skipped, failed, skipped


def _attr_count(attrs: Mapping[str, str], name: str) -> int:
    text = attrs.get(name, "0").strip()
    if not text.isdigit() or int(text) > MAX_COUNT:
        raise ReportError(f"a test suite's {name}={text!r} is not a whole number of at least 0")
    return int(text)


def _read_xml(chunks: Iterable[bytes]) -> Report:
    target = _Target()
    parser = DefusedXMLParser(target=target, forbid_dtd=True)  # and, by default, forbid entities and external
    try:
        for chunk in chunks:
            parser.feed(chunk)
        parser.close()  # expat refuses a body without an element: past here there is a root
    except DefusedXmlException:
        raise ReportError("XML with a DTD or entities is not read") from None
    except SyntaxError as exc:  # expat's ParseError: malformed or truncated
        raise ReportError(f"not well-formed XML: {exc}") from None
    if target.root == "coverage":
        return Report("coverage", "cobertura", {"percent": _cobertura_percent(target.root_attrs)})
    t = target.total
    return Report("tests", "junit", {"passed": t.passed, "failed": t.failed, "skipped": t.skipped})


def _cobertura_percent(attrs: Mapping[str, str]) -> float:
    """(lines-covered + branches-covered) / (lines-valid + branches-valid), as coverage.py totals it; from
    line-rate when a writer gives only rates."""
    counts = {}
    for name in ("lines-covered", "lines-valid", "branches-covered", "branches-valid"):
        text = attrs.get(name, "").strip()
        if text:
            if not text.isdigit():
                raise ReportError(f"the coverage report's {name}={text!r} is not a whole number of at least 0")
            counts[name] = int(text)
    if "lines-valid" in counts and "lines-covered" in counts:
        covered = counts["lines-covered"] + counts.get("branches-covered", 0)
        valid = counts["lines-valid"] + counts.get("branches-valid", 0)
        if covered > valid:
            raise ReportError(f"the coverage report covers {covered} of only {valid} lines and branches")
        return 100.0 if valid == 0 else 100.0 * covered / valid
    try:
        value = float(attrs["line-rate"])
    except (KeyError, ValueError):
        raise ReportError(NO_TOTALS) from None
    if not finite(value) or not 0 <= value <= 1:
        raise ReportError(NO_TOTALS)
    return 100.0 * value


# ---- JSON: SARIF, coverage.py, measures --------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ReportError(f"{name} is not a number a report may hold")


def _read_json(data: bytes) -> Report:
    try:
        document = json.loads(data.decode(), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ReportError(f"not valid UTF-8 at byte {exc.start}") from None
    except RecursionError:
        raise ReportError("the JSON is nested too deep") from None
    except ValueError as exc:
        if isinstance(exc, ReportError):
            raise
        raise ReportError(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ReportError('a JSON report must be an object: SARIF, coverage.py JSON or {"measures": {...}}')
    if "runs" in document:  # SARIF's one required list
        return Report("findings", "sarif", _sarif_counts(document))
    if "totals" in document:
        totals = document["totals"]
        percent: Any = totals.get("percent_covered") if isinstance(totals, dict) else None
        if not finite(percent) or not 0 <= percent <= 100:
            raise ReportError("coverage.py JSON needs totals.percent_covered, a number from 0 to 100")
        return Report("coverage", "coverage-json", {"percent": float(percent)})
    if "measures" in document:
        return Report("measure", "measures", _measures(document["measures"]))
    raise ReportError('a JSON report must be SARIF 2.1.0, coverage.py JSON or {"measures": {NAME: number}}')


def _sarif_counts(document: Mapping[str, Any]) -> dict[str, int]:
    if document.get("version") != "2.1.0":
        raise ReportError(f"SARIF must be version 2.1.0, not {document.get('version')!r}")
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise ReportError("SARIF needs runs, a list")
    counts = dict.fromkeys(LEVELS, 0)
    for i, run in enumerate(runs):
        results = run.get("results", []) if isinstance(run, dict) else None
        if not isinstance(results, list):
            raise ReportError(f"SARIF runs[{i}].results must be a list")
        for j, result in enumerate(results):
            level = result.get("level", "warning") if isinstance(result, dict) else None
            if level not in ("error", "warning", "note", "none"):
                raise ReportError(f"SARIF runs[{i}].results[{j}].level must be error, warning, note or none")
            if level != "none":
                counts[level] += 1
    return counts


def _measures(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise ReportError('measures must be an object of one or more {"NAME": number}')
    if len(raw) > MAX_MEASURES:
        raise ReportError(f"a report holds at most {MAX_MEASURES} measures")
    measures = {}
    for name, value in raw.items():
        if MEASURE_NAME.match(name) is None:
            raise ReportError(f"measure {name[:64]!r} is not a name like 'checkout_p95_ms'")
        if not finite(value) or abs(value) > MAX_MEASURE:
            raise ReportError(f"measure {name!r} must be a finite number, not {json.dumps(value)[:32]}")
        measures[name] = float(value)
    return measures


# ---- LCOV ----------------------------------------------------------------------------------------------


def _read_lcov(data: bytes) -> Report:
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise ReportError(f"not valid UTF-8 at byte {exc.start}") from None
    totals = dict.fromkeys(("LF", "LH", "BRF", "BRH"), 0)
    tags = [line.strip().partition(":") for line in text.splitlines()]
    for number, (tag, _, value) in enumerate(tags, 1):
        if tag in totals:
            if not value.strip().isdigit():
                raise ReportError(f"LCOV line {number}: {tag} must be a whole number of at least 0")
            totals[tag] += int(value)
    if ("end_of_record", "", "") not in tags or totals["LH"] > totals["LF"] or totals["BRH"] > totals["BRF"]:
        raise ReportError("not an LCOV report: no record with LF/LH ending in end_of_record, or more hit than found")
    found = totals["LF"] + totals["BRF"]
    percent = 100.0 if found == 0 else 100.0 * (totals["LH"] + totals["BRH"]) / found
    return Report("coverage", "lcov", {"percent": percent})
