#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build bulwark.hardening's execution environment, bulwark-lab/ee:latest, with ansible-builder
# from tools/ee/execution-environment.yml: on the lab's Debian 12 base image (`make lab`), with the
# dependency collections of the toolchain (`make bootstrap`, from the `ansible` package on PyPI),
# and this checkout's collection. No registry and no Galaxy. Docker's layer cache makes a rebuild
# after a change to the collection only redo its last stages.
#
#   tools/build_ee.sh            build (or refresh) the image
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${BULWARK_CACHE:-/var/cache/bulwark}
stage_root="$cache/ee"
venv="$cache/venv-ee"
pin() { sed -n "s/^$1==\([^ ;]*\).*/\1/p" "$here/requirements-2.19.txt"; }

if [ ! -x "$venv/bin/ansible-builder" ] || ! cmp -s "$here/requirements-ee.txt" "$venv/requirements-ee.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements-ee.txt"
  cp "$here/requirements-ee.txt" "$venv/requirements-ee.txt"
fi
docker image inspect bulwark-lab/base:latest >/dev/null 2>&1 || { echo "build_ee: run make lab first (bulwark-lab/base)" >&2; exit 1; }
deps=$(dirname "$(dirname "$(readlink -f "$repo/build/collections-2.19/ansible_collections/community/docker")")")
[ -d "$deps/community/docker" ] || { echo "build_ee: run make bootstrap first (dependency collections)" >&2; exit 1; }

rm -rf "$stage_root" && mkdir -p "$stage_root/stage/deps/ansible_collections"
sed -e "s/@ANSIBLE_CORE@/$(pin ansible-core)/" -e "s/@ANSIBLE_RUNNER@/$(pin ansible-runner)/" \
  "$here/ee/execution-environment.yml" > "$stage_root/execution-environment.yml"
cp /etc/ssl/certs/ca-certificates.crt "$here/ee/ee-apt-get" "$stage_root/stage/"
# galaxy.yml's dependencies, and community.docker's own.
for c in community/docker community/library_inventory_filtering_v1 community/crypto community/general \
         kubernetes/core ansible/posix; do
  mkdir -p "$stage_root/stage/deps/ansible_collections/${c%/*}"
  cp -rL "$deps/$c" "$stage_root/stage/deps/ansible_collections/$c"
done
"$cache/venv-2.19/bin/ansible-galaxy" collection build "$repo" --output-path "$stage_root" --force >/dev/null
mv "$stage_root"/bulwark-hardening-*.tar.gz "$stage_root/stage/bulwark-hardening.tar.gz"

cd "$stage_root"
started=$(date +%s)
# The classic builder takes FROM a local image without asking a registry.
DOCKER_BUILDKIT=0 "$venv/bin/ansible-builder" build --container-runtime docker -f execution-environment.yml \
  -c context --extra-build-cli-args='--force-rm' -v 2 > build.log 2>&1 \
  || { tail -40 build.log >&2; echo "build_ee: ansible-builder failed; log: $stage_root/build.log" >&2; exit 1; }
echo "build_ee: bulwark-lab/ee:latest built in $(( $(date +%s) - started )) s (log: $stage_root/build.log)"
