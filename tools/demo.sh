#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The main job on the embedded lab: audit (check mode), harden, audit again, harden once more to
# show that nothing changes, and print the before/after table. Called by `make demo`, which puts
# the toolchain on PATH and the collection on ANSIBLE_COLLECTIONS_PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cache=${BULWARK_CACHE:-/var/cache/bulwark}
out="$cache/demo"
mkdir -p "$out"

python3 lab/bulwark_lab.py up docker-host control-plane
inventory="$cache/lab/inventory.yml"

export ANSIBLE_CALLBACKS_ENABLED=bulwark.hardening.controls_report
export ANSIBLE_PIPELINING=true ANSIBLE_GATHERING=explicit

step() { printf '\n=== %s\n' "$*"; }
# Run a step with its JSON, JUnit and HTML reports side by side in $out: with_reports NAME CMD...
with_reports() {
  local name=$1; shift
  BULWARK_REPORT_PATH="$out/$name.json" BULWARK_JUNIT_PATH="$out/$name.xml" BULWARK_HTML_PATH="$out/$name.html" "$@"
}
rm -f "$out"/before.* "$out"/harden.* "$out"/after.*

step "Audit before hardening (check mode; nothing changes on the hosts)"
with_reports before ansible-playbook --check -i "$inventory" playbooks/audit.yml

step "Harden"
with_reports harden ansible-playbook -i "$inventory" playbooks/site.yml

step "Audit after hardening"
# after.json starts as a copy of before.json, so that the page shows what hardening changed.
cp "$out/before.json" "$out/after.json"
with_reports after ansible-playbook --check -i "$inventory" playbooks/audit.yml

step "Harden again: a converged run changes nothing"
env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook -i "$inventory" playbooks/site.yml | tee "$out/rerun.log"
if grep -E 'changed=[1-9]' "$out/rerun.log" >/dev/null; then
  echo "demo: the second hardening run changed something; it must not" >&2
  exit 1
fi

step "Before / after, per host and control"
python3 tools/report_diff.py "$out/before.json" "$out/after.json"
echo
echo "Reports: $out/{before,harden,after}.{json,xml,html}; the lab keeps running (make lab-down stops it)."
