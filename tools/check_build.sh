#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the collection tarball and prove it is what users should get: no lab, Molecule, CI or
# tooling files in it, and every module and role documents itself through ansible-doc.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ansible-galaxy collection build "$repo" --output-path "$out" >/dev/null
tarball=$(ls "$out"/bulwark-hardening-*.tar.gz)
members=$(tar -tzf "$tarball")
forbidden=$(grep -E '^(\./)?(lab|extensions|molecule|\.ci|tools|tests/integration|tests/lab|tests/output)(/|$)' <<<"$members" || true)
if [ -n "$forbidden" ]; then
  echo "check_build: the tarball carries files that must stay out of it:" >&2
  echo "$forbidden" >&2
  exit 1
fi
for required in MANIFEST.json FILES.json meta/runtime.yml meta/controls.yml README.md; do
  grep -qxE "(\./)?$required" <<<"$members" || { echo "check_build: $required missing from the tarball" >&2; exit 1; }
done
echo "check_build: $(basename "$tarball"): $(wc -l <<<"$members") entries, none from lab/Molecule/CI"

# ansible-doc must render every module and role we ship.
cd "$repo"
for m in plugins/modules/*.py; do
  name=$(basename "$m" .py)
  ansible-doc -t module "bulwark.hardening.$name" >/dev/null
done
for r in roles/*/; do
  name=$(basename "$r")
  ansible-doc -t role "bulwark.hardening.$name" >/dev/null
done
# A filter is documented inline (DOCUMENTATION in <name>.py) or, when one file holds several
# filters, in <name>.yml beside it.
for f in $(grep -l '^DOCUMENTATION' plugins/filter/*.py) plugins/filter/*.yml; do
  [ -e "$f" ] || continue
  name=$(basename "$f"); name=${name%.*}
  ansible-doc -t filter "bulwark.hardening.$name" >/dev/null
done
for c in plugins/callback/*.py; do
  ansible-doc -t callback "bulwark.hardening.$(basename "$c" .py)" >/dev/null
done
modules=(plugins/modules/*.py); roles=(roles/*/)
echo "check_build: ansible-doc renders ${#modules[@]} module(s), ${#roles[@]} role(s), the filters and the callback"
