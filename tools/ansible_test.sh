#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Run ansible-test for one lane on a copy of the checkout.
#
#   tools/ansible_test.sh LANE sanity|units [ansible-test args...]
#
# ansible-test finds the collection by the *physical* path of the working directory, which must
# be .../ansible_collections/bulwark/hardening with the dependency collections in the same root.
# A clone can live anywhere, so the tracked and untracked-but-not-ignored files are copied into
# such a tree under the cache (a few milliseconds) and ansible-test runs there.
set -euo pipefail
lane=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${BULWARK_CACHE:-/var/cache/bulwark}
venv="$cache/venv-$lane"
deps="$cache/deps-$lane/ansible_collections"
# Per checkout (hash of its path), so that two clones can run ansible-test at the same time.
root="$cache/ansible-test-$lane-$(printf %s "$repo" | sha256sum | cut -c1-12)/ansible_collections"
dest="$root/bulwark/hardening"

rm -rf "$root"
mkdir -p "$dest"
cp -a "$deps"/. "$root/"          # namespaces whose entries are symlinks to the unzipped collections
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r tar -c --no-recursion -f -) \
  | tar -x -C "$dest"
# ansible-test lists the collection's files with git when it is a repository, and walks the tree
# otherwise; a throwaway repository keeps its view identical to the checkout's.
(cd "$dest" && git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm snapshot --no-verify)

py=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cd "$dest"
export HOME="$cache/home"
PATH="$venv/bin:$PATH" exec ansible-test "$@" --python "$py"
