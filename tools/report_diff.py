# SPDX-License-Identifier: GPL-3.0-or-later
"""Print two compliance reports (before and after hardening) side by side, per host and control.

    python3 tools/report_diff.py before.json after.json

The reports are the JSON written by the bulwark.hardening.controls_report callback.
"""
from __future__ import annotations

import json
import sys


def load(path: str) -> dict[str, dict[str, dict]]:
    """Return {host: {control id: control entry}} from a report file."""
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    return {
        host: {control["id"]: control for control in data["controls"]}
        for host, data in report["hosts"].items()
    }


def render(before: dict[str, dict[str, dict]], after: dict[str, dict[str, dict]]) -> str:
    lines = []
    for host in sorted(set(before) | set(after)):
        lines.append(host)
        old, new = before.get(host, {}), after.get(host, {})
        # Keep the catalog order the callback wrote (natural order of ids).
        ids = list(old) + [cid for cid in new if cid not in old]
        width = max((len(cid) for cid in ids), default=0)
        for cid in ids:
            entry = new.get(cid) or old[cid]
            was = old.get(cid, {}).get("status", "-")
            now = new.get(cid, {}).get("status", "-")
            lines.append(f"  {cid:<{width}}  {was:<11} -> {now:<11} {entry.get('title', '')}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print(render(load(argv[1]), load(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
