"""The report readers on the shapes tools write and on hostile bodies (contract §8.2). The files that real
tools write during the test run are read in tests/services/test_real_reports.py."""

from __future__ import annotations

import json

import pytest

from gate.domain.reports import Report, ReportError, read_report


def read(body: str | bytes, media: str = "application/xml", chunk: int = 7) -> Report:
    data = body.encode() if isinstance(body, str) else body
    return read_report((data[i : i + chunk] for i in range(0, len(data), chunk)), media)


def refused(body: str | bytes, media: str = "application/xml") -> str:
    with pytest.raises(ReportError) as caught:
        read(body, media)
    return str(caught.value)


SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.CheckoutTest" tests="5" failures="1" errors="1" skipped="1" time="0.3">
  <testcase name="a" classname="C"/><testcase name="b" classname="C"><failure message="x">boom</failure></testcase>
  <testcase name="c" classname="C"><error type="E"/></testcase><testcase name="d" classname="C"><skipped/></testcase>
  <testcase name="e" classname="C"/>
</testsuite>"""

JEST = """<testsuites name="jest tests" tests="4" failures="1" errors="0" time="1.2">
  <testsuite name="cart" errors="0" failures="1" skipped="0" tests="3"><testcase name="x"/></testsuite>
  <testsuite name="pay" errors="0" failures="0" skipped="1" tests="1">
    <testcase name="y"><skipped/></testcase>
  </testsuite>
</testsuites>"""

NESTED = """<testsuites>
  <testsuite name="outer" tests="6" failures="1" errors="0" skipped="2">
    <testsuite name="inner" tests="4" failures="1" errors="0" skipped="2"/>
  </testsuite>
  <testsuite name="counted">
    <testsuite name="inner2" tests="2" failures="0" errors="1" skipped="0"/>
    <testcase name="p"/><testcase name="f"><failure/></testcase><testcase name="s"><skipped/></testcase>
  </testsuite>
</testsuites>"""


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (SUREFIRE, {"passed": 2, "failed": 2, "skipped": 1}),
        (JEST, {"passed": 2, "failed": 1, "skipped": 1}),
        # the outermost suite's attributes count; a suite without them adds up its cases and inner suites
        (NESTED, {"passed": 3 + 2, "failed": 1 + 2, "skipped": 2 + 1}),
        ("<testsuites/>", {"passed": 0, "failed": 0, "skipped": 0}),
    ],
)
def test_junit_in_the_shapes_tools_write(body: str, summary: dict) -> None:
    assert read(body) == Report("tests", "junit", summary)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('<testsuite tests="2" failures="-1"/>', "failures='-1' is not a whole number"),
        ('<testsuite tests="two"/>', "tests='two' is not a whole number"),
        ('<testsuite tests="1" failures="1" skipped="1"/>', "counts 1 failed and 1 skipped of only 1 tests"),
        ('<testsuite tests="1"><testcase>', "not well-formed XML"),
        (
            "<html><body>hi</body></html>",
            "must be JUnit (<testsuites> or <testsuite>) or Cobertura (<coverage>), not <html>",
        ),
        ("", "not well-formed XML"),
        ("   ", "not well-formed XML"),
    ],
)
def test_junit_that_cannot_be_read_is_refused_in_words(body: str, words: str) -> None:
    assert words in refused(body)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<testsuite tests="1" name="&lol2;"/>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY secret SYSTEM "file:///etc/passwd">]><testsuite tests="1" name="&secret;"/>"""
DTD_ONLY = """<?xml version="1.0"?><!DOCTYPE testsuite SYSTEM "http://127.0.0.1:9/x.dtd"><testsuite tests="1"/>"""
PARAMETER = """<?xml version="1.0"?><!DOCTYPE t [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><testsuite/>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL, DTD_ONLY, PARAMETER])
def test_xml_with_a_dtd_or_entities_is_refused_and_nothing_is_expanded_or_fetched(body: str) -> None:
    assert "XML with a DTD or entities is not read" in refused(body)


COBERTURA = """<?xml version="1.0" ?>
<coverage version="7.10" timestamp="1" lines-valid="200" lines-covered="180" line-rate="0.9" branches-covered="30"
 branches-valid="40" branch-rate="0.75" complexity="0"><packages/></coverage>"""


def test_cobertura_totals_lines_and_branches_as_coverage_py_does() -> None:
    assert read(COBERTURA) == Report("coverage", "cobertura", {"percent": 100 * 210 / 240})
    assert read('<coverage line-rate="0.5"/>').summary == {"percent": 50.0}
    assert read('<coverage lines-valid="0" lines-covered="0"/>').summary == {"percent": 100.0}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('<coverage lines-valid="10" lines-covered="11"/>', "covers 11 of only 10"),
        ('<coverage lines-valid="ten" lines-covered="1"/>', "lines-valid='ten' is not a whole number"),
        ('<coverage line-rate="1.5"/>', "neither lines-valid and lines-covered nor a line-rate from 0 to 1"),
        ('<coverage line-rate="nan"/>', "nor a line-rate"),
        ("<coverage/>", "nor a line-rate"),
    ],
)
def test_cobertura_that_cannot_be_read(body: str, words: str) -> None:
    assert words in refused(body)


def test_json_reports_by_their_content() -> None:
    sarif = {
        "version": "2.1.0",
        "runs": [
            {"results": [{"level": "error"}, {}, {"level": "note"}, {"level": "none"}]},
            {"results": [{"level": "warning"}]},
            {},
        ],
    }
    assert read(json.dumps(sarif), "application/sarif+json") == Report(
        "findings", "sarif", {"error": 1, "warning": 2, "note": 1}
    )
    covered = {"meta": {"version": "7.10"}, "totals": {"percent_covered": 93.4, "num_statements": 10}}
    assert read(json.dumps(covered), "application/json") == Report("coverage", "coverage-json", {"percent": 93.4})
    measures = {"measures": {"checkout_p95_ms": 231, "rps": 1200.5}}
    assert read(json.dumps(measures), "application/json") == Report(
        "measure", "measures", {"checkout_p95_ms": 231.0, "rps": 1200.5}
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"version": "2.0.0", "runs": []}', "SARIF must be version 2.1.0, not '2.0.0'"),
        ('{"version": "2.1.0", "runs": {}}', "SARIF needs runs, a list"),
        ('{"version": "2.1.0", "runs": [{"results": 3}]}', "runs[0].results must be a list"),
        ('{"version": "2.1.0", "runs": [{"results": [{"level": "fatal"}]}]}', "runs[0].results[0].level must be"),
        ('{"version": "2.1.0", "runs": [1]}', "runs[0].results must be a list"),
        ('{"totals": {"percent_covered": 101}}', "totals.percent_covered, a number from 0 to 100"),
        ('{"totals": []}', "totals.percent_covered"),
        ('{"measures": {"p95": NaN}}', "NaN is not a number a report may hold"),
        ('{"measures": {"p95": Infinity}}', "Infinity is not a number"),
        ('{"measures": {"p95": 1e999}}', "must be a finite number"),
        ('{"measures": {"p95": true}}', "must be a finite number"),
        ('{"measures": {"p95": "250"}}', "must be a finite number"),
        ('{"measures": {"bad name": 1}}', "is not a name like"),
        ('{"measures": {}}', "one or more"),
        ('{"measures": [1]}', "one or more"),
        ('{"name": "not a report"}', "must be SARIF 2.1.0, coverage.py JSON or"),
        ("[1, 2]", "must be an object"),
        ('{"runs": ', "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8 at byte 0"),
        ("[" * 100000 + "]" * 100000, "nested too deep"),
    ],
)
def test_json_that_cannot_be_read(body: str | bytes, words: str) -> None:
    assert words in refused(body, "application/json")


def test_lcov_totals_lines_and_branches() -> None:
    lcov = "TN:\nSF:a.py\nDA:1,1\nLF:10\nLH:8\nBRF:4\nBRH:2\nend_of_record\nSF:b.py\nLF:10\nLH:10\nend_of_record\n"
    assert read(lcov, "text/plain") == Report("coverage", "lcov", {"percent": 100 * 20 / 24})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("hello", "not an LCOV report"),
        ("SF:a\nLF:1\nLH:2\nend_of_record\n", "more hit than found"),
        ("SF:a\nLF:x\nend_of_record\n", "LCOV line 2: LF must be a whole number"),
        (b"\xc3", "not valid UTF-8"),
    ],
)
def test_lcov_that_cannot_be_read(body: str | bytes, words: str) -> None:
    assert words in refused(body, "text/plain")


LONG = "m" * 70
REFUSED_EXACTLY = [
    ('{"version": "2.1.0", "runs": {}}', "application/json", "SARIF needs runs, a list"),
    (
        '{"version": "2.1.0", "runs": [{"results": [1]}]}',
        "application/json",
        "SARIF runs[0].results[0].level must be error, warning, note or none",
    ),
    (
        '{"totals": {"percent_covered": 101}}',
        "application/json",
        "coverage.py JSON needs totals.percent_covered, a number from 0 to 100",
    ),
    (
        '{"measures": {"p95": "' + "9" * 40 + '"}}',
        "application/json",
        "measure 'p95' must be a finite number, not \"9999999999999999999999999999999",
    ),
    (
        '{"measures": {"' + LONG + '": 1}}',
        "application/json",
        f"measure {LONG[:64]!r} is not a name like 'checkout_p95_ms'",
    ),
    (
        '{"measures": {"p95": 1.0000001e15}}',
        "application/json",
        "measure 'p95' must be a finite number, not 1000000100000000.0",
    ),
    ('{"measures": {}}', "application/json", 'measures must be an object of one or more {"NAME": number}'),
    (
        json.dumps({"measures": {f"m{i}": i for i in range(1001)}}),
        "application/json",
        "a report holds at most 1000 measures",
    ),
    (
        '{"name": "not a report"}',
        "application/json",
        'a JSON report must be SARIF 2.1.0, coverage.py JSON or {"measures": {NAME: number}}',
    ),
    (
        '{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0"}',
        "application/json",
        'a JSON report must be SARIF 2.1.0, coverage.py JSON or {"measures": {NAME: number}}',
    ),
    ("[1, 2]", "application/json", 'a JSON report must be an object: SARIF, coverage.py JSON or {"measures": {...}}'),
    ("[" * 100000 + "]" * 100000, "application/json", "the JSON is nested too deep"),
    (
        "hello",
        "text/plain",
        "not an LCOV report: no record with LF/LH ending in end_of_record, or more hit than found",
    ),
    (
        "SF:a\nLF:5\nLH:4\nBRF:2\nBRH:3\nend_of_record\n",
        "text/plain",
        "not an LCOV report: no record with LF/LH ending in end_of_record, or more hit than found",
    ),
    (
        "<coverage/>",
        "application/xml",
        "the coverage report gives neither lines-valid and lines-covered nor a line-rate from 0 to 1",
    ),
    (
        '<testsuite tests="1000000000001"/>',
        "application/xml",
        "a test suite's tests='1000000000001' is not a whole number of at least 0",
    ),
    (BILLION_LAUGHS, "application/xml", "XML with a DTD or entities is not read"),
]


@pytest.mark.parametrize(("body", "media", "words"), REFUSED_EXACTLY)
def test_each_refusal_says_exactly_why(body: str, media: str, words: str) -> None:
    assert refused(body, media) == words


READ_AT_THE_EDGES = [
    ('{"totals": {"percent_covered": 0}}', "application/json", {"percent": 0.0}),
    ('{"totals": {"percent_covered": 100}}', "application/json", {"percent": 100.0}),
    ('{"measures": {"p95": 1e15}}', "application/json", {"p95": 1e15}),
    ("SF:a\nLF:0\nLH:0\nend_of_record\n", "text/plain", {"percent": 100.0}),
    ("SF:a\nLF:5\nLH:5\nBRF:2\nBRH:2\nend_of_record\n", "text/plain", {"percent": 100.0}),
    ('<coverage line-rate="0"/>', "application/xml", {"percent": 0.0}),
    ('<coverage line-rate="1"/>', "application/xml", {"percent": 100.0}),
    ('<coverage lines-valid="10" line-rate="0.5"/>', "application/xml", {"percent": 50.0}),  # half the counts: the rate
    # test cases outside any suite count; an error fails a case; two skipped cases are two
    (
        "<testsuites><testcase/><testcase><error/></testcase></testsuites>",
        "application/xml",
        {"passed": 1, "failed": 1, "skipped": 0},
    ),
    (
        "<testsuite><testcase><skipped/></testcase><testcase><skipped/></testcase>"
        "<testcase><error/></testcase><failure/></testsuite>",  # a failure outside a case is no case
        "application/xml",
        {"passed": 0, "failed": 1, "skipped": 2},
    ),
    ('<testsuite tests="1000000000000"/>', "application/xml", {"passed": 10**12, "failed": 0, "skipped": 0}),
]


@pytest.mark.parametrize(("body", "media", "summary"), READ_AT_THE_EDGES)
def test_reports_at_the_edges_of_what_is_accepted(body: str, media: str, summary: dict) -> None:
    assert read(body, media).summary == summary


def test_a_thousand_measures_are_read() -> None:
    measures = {f"m{i}": i for i in range(1000)}
    assert read(json.dumps({"measures": measures}), "application/json").summary == {
        k: float(v) for k, v in measures.items()
    }
