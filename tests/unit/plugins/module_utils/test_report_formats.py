# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JUnit and HTML renderings of the report model. The schema and the browser check the same output
for real in tests/integration/test_report_formats.py."""

from __future__ import annotations

import datetime
import html.parser
import json
import re
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    ControlLedger,
    TaskOutcome,
    load_catalog,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.report_formats import (
    render_html,
    render_junit,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.waivers import Waiver
from hypothesis import given, settings
from hypothesis import strategies as st

GENERATED = "2026-06-01T10:00:00+00:00"
CATALOG = load_catalog(
    {
        "benchmarks": {"CIS-Docker": {"title": "CIS Docker Benchmark", "version": "1.6.0"}, "BWK": {"title": "Bulwark", "version": "1"}},
        "controls": [
            {"id": f"CIS-Docker {number}", "title": f"Control {number}", "role": "docker_daemon",
             "variable": f"docker_daemon_v{index}", "waived_when": None, "verify": "x"}
            for index, number in enumerate(("2.2", "2.3", "2.10", "3.17", "3.18", "3.19"))
        ] + [{"id": "BWK-1", "title": "Own control", "role": "docker_daemon", "variable": "docker_daemon_b",
              "waived_when": False, "verify": "x"}],
    }
)


def _report(**kwargs: t.Any) -> dict[str, t.Any]:
    ledger = ControlLedger(CATALOG)
    ledger.role_ran("web1", "docker_daemon")
    ledger.record("web1", ["CIS-Docker 2.2"], "a | CIS-Docker 2.2", TaskOutcome("ok", True))
    ledger.record("web1", ["CIS-Docker 2.3"], "b | CIS-Docker 2.3", TaskOutcome("changed", True))
    ledger.record("web1", ["CIS-Docker 2.10"], "c | CIS-Docker 2.10", TaskOutcome("failed", True, msg="boom <b>&"))
    ledger.record("web1", ["CIS-Docker 3.17"], "d | CIS-Docker 3.17", TaskOutcome("skipped", True, false_condition="docker_daemon_v3"))
    ledger.record("web1", ["CIS-Docker 3.18"], "e | CIS-Docker 3.18", TaskOutcome("skipped", True, false_condition="x"))
    ledger.record("web1", ["BWK-1"], "f | BWK-1", TaskOutcome("changed", True))
    ledger.set_waivers("web1", [Waiver(id="BWK-1", reason="accepted <OPS-1>", expires=datetime.date(2099, 1, 1))])
    ledger.mark_unreachable("gone")
    return ledger.build_report(check_mode=True, generated=GENERATED, fail_on="drift", **kwargs)


def test_junit_has_one_suite_per_host_and_one_case_per_control() -> None:
    root = ET.fromstring(render_junit(_report()))
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors")} == {"tests": "7", "failures": "2", "errors": "2"}
    gone, web1 = root.findall("testsuite")  # natural order of host names
    assert (web1.get("name"), gone.get("name")) == ("web1", "gone")
    assert {k: web1.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "7", "failures": "2", "errors": "1", "skipped": "3",
    }
    outcome = {}
    for case in web1.findall("testcase"):
        child = next(iter(case), None)
        outcome[case.get("name")] = (child.tag, child.get("type"), child.get("message")) if child is not None else None
    assert outcome == {
        "BWK-1 Own control": ("skipped", "waived", "waived: accepted <OPS-1> (until 2099-01-01)"),
        "CIS-Docker 2.2 Control 2.2": None,
        "CIS-Docker 2.3 Control 2.3": ("failure", "drift", "drift"),
        "CIS-Docker 2.10 Control 2.10": ("failure", "fail", "fail: task failed: boom <b>&"),
        "CIS-Docker 3.17 Control 3.17": ("skipped", "waived", "waived: turned off by docker_daemon_v3"),
        "CIS-Docker 3.18 Control 3.18": ("skipped", "n/a", "n/a: skipped: x"),
        "CIS-Docker 3.19 Control 3.19": ("error", "not-checked", "not-checked: no task of role docker_daemon reported this control"),
    }
    assert web1.find("testcase").get("classname") == "web1.docker_daemon"
    (unreachable,) = gone.findall("testcase")
    assert unreachable.find("error").get("type") == "unreachable"
    props = {p.get("name"): p.get("value") for p in web1.find("properties")}
    assert props == {"check_mode": "true", "fail_on": "drift", "result": "fail"}


def test_html_is_one_page_without_external_resources() -> None:
    page = render_html(_report())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "default-src 'none'" in page
    # The data the page was made from travels with it, parseable, with nothing that closes the script.
    data = page.split('<script type="application/json" id="report-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data) == json.loads(json.dumps(_report() | {"generated": GENERATED}))
    assert "<b>" not in data
    # Every control row carries what the filters select on.
    rows = re.findall(r'<tr data-status="([^"]+)" data-section="([^"]+)" data-host="([^"]+)">', page)
    assert len(rows) == 7
    assert ("fail", "CIS-Docker 2", "web1") in rows and ("waived", "BWK", "web1") in rows
    assert '<option value="CIS-Docker 3">CIS-Docker 3</option>' in page
    assert "boom &lt;b&gt;&amp;" in page and "accepted &lt;OPS-1&gt;" in page
    assert 'id="changes"' in page and "No previous report to compare with." in page


def test_html_shows_the_changes_since_the_previous_report() -> None:
    previous = _report()
    previous["hosts"]["web1"]["controls"][1]["status"] = "pass"  # CIS-Docker 2.2 was pass, ...
    previous["hosts"]["web1"]["controls"][2]["status"] = "pass"  # ... 2.3 too
    page = render_html(_report(previous=previous))
    table = page.split('<table id="changes">', 1)[1].split("</table>", 1)[0]
    assert "CIS-Docker 2.3" in table and "CIS-Docker 2.2" not in table
    assert '<span class="badge s-pass">pass</span></td><td><span class="badge s-drift">drift</span>' in table


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


_HOSTILE = st.lists(
    st.sampled_from(list("<>&\"'/ \n\t\x00\x01\x1b\ud800\ufffeé\U0001f600x") + ["</script>", "<!--", "]]>", "</td>"]),
    max_size=12,
).map("".join)


@settings(max_examples=200, deadline=None, database=None)
@given(host=_HOSTILE.filter(bool), title=_HOSTILE, msg=_HOSTILE, reason=_HOSTILE)
def test_hostile_text_stays_text(host: str, title: str, msg: str, reason: str) -> None:
    """Host names, titles, messages and reasons never become markup, and the JUnit file always parses."""
    report = _report()
    row = report["hosts"]["web1"]["controls"][0]
    row.update(title=title, msg=msg, waiver={"source": "inventory", "reason": reason, "expires": "2099-01-01"})
    report["hosts"] = {host: report["hosts"]["web1"]}
    tree = ET.fromstring(render_junit(report))
    assert len(tree.findall("testsuite/testcase")) == 7
    page = render_html(report)
    parser = _Tags()
    parser.feed(page)
    assert parser.tags.count("script") == 2
    assert parser.tags.count("tr") == 2 + 8 + 3  # summary: head, host; controls: head, 7 rows; waivers: head, 2 rows
