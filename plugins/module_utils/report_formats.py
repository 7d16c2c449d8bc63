# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The controls report for CI systems (JUnit XML) and for people (one self-contained HTML page).

Both are rendered from the report model that ``ControlLedger.build_report`` returns, the same data
as the JSON report, so the three never disagree.
"""

from __future__ import annotations

import html
import json
import re
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    NOT_CHECKED,
    REPORT_STATUSES,
    natural_key,
    waiver_text,
)

__all__ = ["render_html", "render_junit"]

# JUnit has four outcomes; a control has seven statuses.
_FAILURES = ("fail", "drift")
_ERRORS = (NOT_CHECKED,)
_SKIPPED = ("waived", "n/a")


# Characters XML 1.0 cannot carry at all, not even escaped (NUL, most C0 controls, lone surrogates).
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _detail(row: t.Mapping[str, t.Any]) -> str:
    return waiver_text(row) or row.get("msg") or ""


def _x(value: t.Any) -> str:
    """Text as XML can hold it: a character it cannot becomes U+FFFD rather than a file no parser reads."""
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def render_junit(report: t.Mapping[str, t.Any]) -> str:
    """One ``<testsuite>`` per host in a ``<testsuites>`` root, one ``<testcase>`` per control.

    ``fail`` and ``drift`` are failures (the control is not in effect), ``not-checked`` is an error
    (a defect of the role), ``waived`` and ``n/a`` are skipped with their reason; ``pass`` and
    ``fixed`` pass. The shape follows the JUnit schema that Jenkins and pytest use (junit-10.xsd).
    """
    root = ET.Element("testsuites", name="bulwark.hardening controls")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for host, data in (report.get("hosts") or {}).items():
        rows = data.get("controls") or []
        counts = {
            "tests": len(rows),
            "failures": sum(row["status"] in _FAILURES for row in rows),
            "errors": sum(row["status"] in _ERRORS for row in rows) + int(bool(data.get("unreachable"))),
            "skipped": sum(row["status"] in _SKIPPED for row in rows),
        }
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_x(host),
            hostname=_x(host),
            timestamp=_x(report.get("generated")),
            time="0",
            **{key: str(value) for key, value in counts.items()},
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("check_mode", str(bool(report.get("check_mode"))).lower()),
            ("fail_on", str(report.get("fail_on") or "")),
            ("result", str(data.get("result") or "")),
        ):
            ET.SubElement(properties, "property", name=name, value=_x(value))
        if data.get("unreachable"):
            case = ET.SubElement(suite, "testcase", classname=_x(host), name="host reachable")
            ET.SubElement(case, "error", type="unreachable", message="the host was unreachable")
        for row in rows:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_x(f"{host}.{row['role']}"),
                name=_x(f"{row['id']} {row['title']}"),
                time="0",
            )
            status, detail = row["status"], _detail(row)
            message = _x(f"{status}: {detail}" if detail else status)
            if status in _FAILURES:
                ET.SubElement(case, "failure", type=status, message=message).text = _x("\n".join(row.get("tasks") or []))
            elif status in _ERRORS:
                ET.SubElement(case, "error", type=status, message=message)
            elif status in _SKIPPED:
                ET.SubElement(case, "skipped", type=status, message=message)
            elif status == "fixed":
                ET.SubElement(case, "system-out").text = "fixed: changed now, in effect"
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em}
.meta{color:#5a6272;margin:0 0 1em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #e3e6ec;vertical-align:top}
th{background:#f4f6f9;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;min-width:5.5em;text-align:center;border-radius:3px;padding:0 .4em;font-weight:600;color:#fff}
.s-pass{background:#2e7d32}.s-fixed{background:#1565c0}.s-drift{background:#ef6c00}.s-fail{background:#c62828}
.s-waived{background:#6a1b9a}.s-na{background:#757575}.s-not-checked{background:#4e342e}
.filters{display:flex;gap:1em;align-items:end;margin:.5em 0 .8em;flex-wrap:wrap}
.filters label{display:flex;flex-direction:column;font-size:.85em;color:#5a6272}
select{font:inherit;padding:.15em}
#shown{color:#5a6272;font-size:.9em}
td.detail{color:#3c4352;max-width:40em}td.id,td.host{white-space:nowrap}
.empty{color:#5a6272;font-style:italic}
"""

# Filters by status, benchmark section and host; the URL fragment holds them, so a link to
# "report.html#status=fail" opens the failures only.
_SCRIPT = """
(function () {
  var names = ["status", "section", "host"];
  var rows = Array.prototype.slice.call(document.querySelectorAll("#controls tbody tr"));
  function current() {
    var out = {};
    names.forEach(function (n) { out[n] = document.getElementById("f-" + n).value; });
    return out;
  }
  function apply() {
    var f = current(), shown = 0;
    rows.forEach(function (r) {
      var ok = names.every(function (n) { return !f[n] || r.getAttribute("data-" + n) === f[n]; });
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " controls shown";
    var hash = names.filter(function (n) { return f[n]; })
      .map(function (n) { return n + "=" + encodeURIComponent(f[n]); }).join("&");
    if (("#" + hash) !== location.hash && !(hash === "" && location.hash === "")) {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    }
  }
  function fromHash() {
    location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var kv = pair.split("="), el = document.getElementById("f-" + kv[0]);
      if (el && kv.length === 2) { el.value = decodeURIComponent(kv[1]); }
    });
  }
  names.forEach(function (n) { document.getElementById("f-" + n).addEventListener("change", apply); });
  window.addEventListener("hashchange", function () { fromHash(); apply(); });
  fromHash();
  apply();
})();
"""


def _e(value: t.Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _badge(status: str | None) -> str:
    if not status:
        return '<span class="empty">-</span>'
    css = "s-na" if status == "n/a" else f"s-{status}"
    return f'<span class="badge {_e(css)}">{_e(status)}</span>'


def _options(name: str, values: t.Iterable[str]) -> str:
    items = "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
    return f'<label>{_e(name)}<select id="f-{_e(name)}"><option value="">all</option>{items}</select></label>'


def _summary_table(hosts: t.Mapping[str, t.Any]) -> str:
    head = "".join(f"<th>{_e(status)}</th>" for status in REPORT_STATUSES)
    body = []
    for host, data in hosts.items():
        cells = "".join(f'<td class="num">{data["summary"].get(status, 0)}</td>' for status in REPORT_STATUSES)
        unreachable = ' <span class="empty">(unreachable)</span>' if data.get("unreachable") else ""
        body.append(f"<tr><td>{_e(host)}{unreachable}</td><td>{_badge(data.get('result'))}</td>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(REPORT_STATUSES) + 2}" class="empty">no hosts</td></tr>')
    return f'<table id="summary"><thead><tr><th>host</th><th>result</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _controls_table(hosts: t.Mapping[str, t.Any]) -> str:
    body = []
    for host, data in hosts.items():
        for row in data.get("controls") or []:
            body.append(
                f'<tr data-status="{_e(row["status"])}" data-section="{_e(row.get("section"))}" data-host="{_e(host)}">'
                f"<td class=\"host\">{_e(host)}</td><td class=\"id\">{_e(row['id'])}</td><td>{_badge(row['status'])}</td>"
                f"<td>{_e(row['title'])}</td><td>{_e(row['role'])}</td><td class=\"detail\">{_e(_detail(row))}</td></tr>"
            )
    return (
        '<table id="controls"><thead><tr><th>host</th><th>control</th><th>status</th><th>title</th>'
        f'<th>role</th><th>detail</th></tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _changes_table(report: t.Mapping[str, t.Any]) -> str:
    previous = report.get("previous")
    if not previous:
        return '<p class="empty" id="changes">No previous report to compare with.</p>'
    changes = report.get("changes") or []
    if not changes:
        return f'<p class="empty" id="changes">Nothing changed since {_e(previous.get("generated"))}.</p>'
    body = "".join(
        f"<tr><td>{_e(c['host'])}</td><td>{_e(c['id'])}</td><td>{_e(c.get('title'))}</td>"
        f"<td>{_badge(c.get('from'))}</td><td>{_badge(c.get('to'))}</td></tr>"
        for c in changes
    )
    return (
        f'<p class="meta">Since {_e(previous.get("generated"))}:</p>'
        '<table id="changes"><thead><tr><th>host</th><th>control</th><th>title</th><th>was</th><th>now</th>'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def _waivers_table(hosts: t.Mapping[str, t.Any]) -> str:
    body = []
    for host, data in hosts.items():
        for row in data.get("controls") or []:
            waiver = row.get("waiver")
            if not waiver:
                continue
            source = "inventory" if waiver.get("source") == "inventory" else f"variable {waiver.get('variable')}"
            state = "expired" if row["status"] == "fail" else "in force"
            body.append(
                f"<tr><td>{_e(host)}</td><td>{_e(row['id'])}</td><td>{_e(waiver.get('reason'))}</td>"
                f"<td>{_e(waiver.get('expires') or '-')}</td><td>{_e(source)}</td><td>{_e(state)}</td>"
                f"<td>{_badge(row.get('observed'))}</td></tr>"
            )
    if not body:
        return '<p class="empty" id="waivers">No control is waived.</p>'
    return (
        '<table id="waivers"><thead><tr><th>host</th><th>control</th><th>reason</th><th>expires</th>'
        f'<th>from</th><th>state</th><th>found</th></tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def render_html(report: t.Mapping[str, t.Any]) -> str:
    """A single page with no external resource: summary per host, the filterable table of every
    control, what changed since the previous report, and the waivers with their reasons."""
    hosts = report.get("hosts") or {}
    statuses = [s for s in REPORT_STATUSES if any(r["status"] == s for d in hosts.values() for r in d["controls"])]
    sections = sorted(
        {r.get("section") for d in hosts.values() for r in d["controls"] if r.get("section")}, key=natural_key
    )
    mode = "audit (check mode): drift = not in effect, would change" if report.get("check_mode") else "apply: fixed = changed now"
    benchmarks = ", ".join(
        f"{b.get('title')} {b.get('version')}" for b in ((report.get("catalog") or {}).get("benchmarks") or {}).values()
    )
    # The model itself, for whoever wants to script against the page.
    data = json.dumps(report, sort_keys=False).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>Controls report {_e(report.get("generated"))}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>bulwark.hardening controls report</h1>
<p class="meta">Generated {_e(report.get("generated"))} &middot; {_e(mode)} &middot; the run fails on: {_e(report.get("fail_on"))}<br>{_e(benchmarks)}</p>
<h2>Hosts</h2>
{_summary_table(hosts)}
<h2>Controls</h2>
<div class="filters">{_options("status", statuses)}{_options("section", sections)}{_options("host", list(hosts))}<span id="shown"></span></div>
{_controls_table(hosts)}
<h2>Changes since the previous report</h2>
{_changes_table(report)}
<h2>Waivers</h2>
{_waivers_table(hosts)}
<script type="application/json" id="report-data">{data}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""
