#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Install the Debian packages the toolchain and tests need, when missing. Needs root.
# (The Docker engine and debootstrap are installed by the lab command, which needs them.)
set -euo pipefail
need=()
# chromium: the report tests look at the HTML report in a real headless browser.
for pkg in git unzip shellcheck chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "sysdeps: missing Debian packages: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
  exit 2
fi
echo "sysdeps: installing ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
