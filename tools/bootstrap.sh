#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the controller toolchain for one lane, offline from Galaxy, and cache it.
#
#   tools/bootstrap.sh [2.19|2.21] [--probe]   (default 2.19; --probe: is the lane's Python here?)
#
# Makes, under $BULWARK_CACHE (default /var/cache/bulwark):
#   venv-<lane>/                  pinned Python tools (tools/requirements-<lane>.txt)
#   collections-<bundle>/         the dependency collections, unzipped from the `ansible`
#                                 wheel on PyPI (Galaxy is not reachable; the bundle pin
#                                 fixes every collection version)
#   deps-<lane>/ansible_collections/   the dependency collections as one root (for ansible-test)
# and, in the checkout, build/collections-<lane>/ansible_collections/: our checkout (symlink)
# beside the dependencies, which is what ansible-playbook, ansible-doc and Molecule need
#   home/.ansible/test/cache/get_pip_*.py   offline stand-in for ansible-test's pip bootstrap
# Every step is skipped when its inputs did not change, so a warm run costs about a second.
set -euo pipefail

lane=${1:-2.19}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${BULWARK_CACHE:-/var/cache/bulwark}

# The collections our roles use; community.library_inventory_filtering_v1 is a dependency of
# community.docker.
collections=(community/docker community/library_inventory_filtering_v1 community/crypto
             community/general ansible/posix kubernetes/core)

case "$lane" in
  2.19) pythons=(python3.11); bundle=12.3.0; get_pip=get_pip_24_2.py; pip_pin=24.2 ;;
  2.21) pythons=(python3.13 python3.12); bundle=14.5.0; get_pip=get_pip_25_2.py; pip_pin=25.2 ;;
  *) echo "bootstrap: unknown lane '$lane'; use 2.19 or 2.21" >&2; exit 2 ;;
esac

# A lane's interpreter: on PATH, or installed by pyenv without being selected (pyenv's shims
# answer only for the selected versions).
find_python() {
  local name candidate
  for name in "${pythons[@]}"; do
    for candidate in "$(command -v "$name" 2>/dev/null)" \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/"$name" /root/.pyenv/versions/*/bin/"$name"; do
      if [ -x "$candidate" ] && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
        echo "$candidate"; return 0
      fi
    done
  done
  return 1
}
if ! python=$(find_python); then
  echo "bootstrap: lane $lane needs one of: ${pythons[*]} (none found)" >&2
  exit 3   # callers treat 3 as "lane not available on this machine"
fi
if [ "${2:-}" = "--probe" ]; then exit 0; fi

mkdir -p "$cache"
log() { printf 'bootstrap[%s]: %s\n' "$lane" "$*" >&2; }

# 1. Python tools. The stamp holds the hash of the requirements and of the interpreter.
venv="$cache/venv-$lane"
req="$here/requirements-$lane.txt"
want=$( (cat "$req"; "$python" -VV) | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.bulwark-stamp" 2>/dev/null)" != "$want" ]; then
  log "creating $venv with $python"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  "$venv/bin/pip" install -q -r "$req" 2>&1 | grep -v "is ignored" || true
  "$venv/bin/python" -c 'import ansible' # fail here, not later, when the install did not work
  echo "$want" > "$venv/.bulwark-stamp"
fi

# 2. Dependency collections from the `ansible` wheel.
colls="$cache/collections-$bundle"
if [ ! -f "$colls/.bulwark-stamp" ]; then
  log "extracting collections from ansible==$bundle"
  dl=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps -d "$dl" "ansible==$bundle" 2>&1 | grep -v "is ignored" || true
  rm -rf "$colls"; mkdir -p "$colls"
  patterns=()
  for c in "${collections[@]}"; do patterns+=("ansible_collections/$c/*"); done
  unzip -q -o "$dl"/ansible-"$bundle"-*.whl "${patterns[@]}" -d "$colls"
  rm -rf "$dl"
  touch "$colls/.bulwark-stamp"
fi

# 3. Collection roots. The dependencies' root is shared through the cache; the root that also
#    holds this checkout (as bulwark/hardening) lives in the checkout's own build/ directory, so
#    two clones on one machine never point each other's tools at the wrong tree.
deps="$cache/deps-$lane/ansible_collections"
root="$repo/build/collections-$lane/ansible_collections"
mkdir -p "$deps" "$root/bulwark"
ln -sfn "$repo" "$root/bulwark/hardening"
for c in "${collections[@]}"; do
  mkdir -p "$deps/${c%/*}" "$root/${c%/*}"
  ln -sfn "$colls/ansible_collections/$c" "$deps/$c"
  ln -sfn "$colls/ansible_collections/$c" "$root/$c"
done

# 4. ansible-test bootstraps pip in each venv it makes by downloading get-pip.py, which is not
#    reachable here; it first looks in ~/.ansible/test/cache, so a stand-in that installs pip
#    from its PyPI wheel goes there. HOME for the tests is $cache/home (see the Makefile).
tcache="$cache/home/.ansible/test/cache"
mkdir -p "$tcache"
if ! ls "$tcache"/pip-"$pip_pin"-*.whl >/dev/null 2>&1; then
  "$venv/bin/pip" download -q --no-deps -d "$tcache" "pip==$pip_pin" 2>&1 | grep -v "is ignored" || true
fi
cmp -s "$here/get_pip_offline.py" "$tcache/$get_pip" || cp "$here/get_pip_offline.py" "$tcache/$get_pip"

# 5. The JUnit schema the report tests validate against: junit-10.xsd (MIT, the schema Jenkins'
#    xunit plugin and pytest's own tests use), shipped in the pytest sdist on PyPI.
xsd="$cache/schemas/junit-10.xsd"
if [ ! -s "$xsd" ]; then
  dl=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps --no-binary :all: -d "$dl" "pytest==8.3.4" 2>&1 | grep -v "is ignored" || true
  mkdir -p "$cache/schemas"
  tar -xzf "$dl"/pytest-8.3.4.tar.gz -O pytest-8.3.4/testing/example_scripts/junit-10.xsd >"$xsd.tmp"
  mv "$xsd.tmp" "$xsd"
  rm -rf "$dl"
fi

log "ready: $venv, ${root%/ansible_collections}"
