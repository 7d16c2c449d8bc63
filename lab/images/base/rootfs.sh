#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Make the base image's root file system: debootstrap, trim for containers (LAB.md section 2), tar.
#
#   rootfs.sh ROOTFS TARBALL SUITE MIRROR SECURITY_MIRROR DEB_CACHE PACKAGES
#
# ROOTFS is an empty work directory; PACKAGES is comma-separated. lab/bulwark_lab.py runs this as
# root on the host and hands TARBALL to `docker import`. This file is part of the base image's
# recipe hash: editing it rebuilds every lab image.
set -eu
# debootstrap and chroot live in sbin, which a sudo or runuser PATH may lack.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

root=$1 tarball=$2 suite=$3 mirror=$4 security=$5 debs=$6 packages=$7

# DEB_CACHE keeps the .debs, so a changed recipe downloads only what changed.
debootstrap --variant=minbase --include="$packages" --cache-dir="$debs" "$suite" "$root" "$mirror"

# Containers apt-get from the same archive as the host (no registry is reachable, the archive is).
rm -f "$root"/etc/apt/sources.list.d/*
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES

# Keep images small: derived images (docker build) inherit these, so no docs and no recommends.
# The copyright files stay: they are the licence notices of what we ship.
cat > "$root/etc/dpkg/dpkg.cfg.d/01-bulwark-nodoc" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/info/*
DPKG
cat > "$root/etc/apt/apt.conf.d/01-bulwark-norecommends" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# Every container must get its own identity at boot.
: > "$root/etc/machine-id"
rm -f "$root/etc/hostname"

# Units that make no sense in a container, slow the boot down or fail there (and so would turn
# `systemctl is-system-running` into "degraded" for no reason).
for pattern in 'getty@tty1.service' 'e2scrub*' 'systemd-pstore.service' 'apt-daily*' \
               'dpkg-db-backup.*' 'fstrim.*'; do
  find "$root/etc/systemd/system" -path '*.wants/*' -name "$pattern" -delete
done
for unit in systemd-remount-fs.service dev-hugepages.mount sys-fs-fuse-connections.mount \
            systemd-logind.service getty.target console-getty.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# security.capability keeps file capabilities (ping's cap_net_raw) that dpkg set.
tar --numeric-owner --xattrs --xattrs-include=security.capability -C "$root" -cf "$tarball" .
