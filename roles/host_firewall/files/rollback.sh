#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Managed by the bulwark.hardening.host_firewall role: the commit-confirmed rollback.
#
#   rollback.sh arm    DIR TABLE TIMEOUT UNIT   save table inet TABLE and restore it after TIMEOUT s
#   rollback.sh disarm DIR TABLE 0 UNIT         cancel it; prints "disarmed", or "fired" when it ran
#
# The rollback runs on the host, independent of the connection that armed it: a transient
# systemd timer (systemd-run) where systemd is PID 1, otherwise a detached process (setsid).
set -eu
action=$1 dir=$2 table=$3 timeout=$4 unit=$5
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C

systemd_runs() {
    [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1
}

disarm() {
    mode=$(cat "$dir/mode" 2>/dev/null || true)
    case $mode in
    systemd)
        if systemctl is-active --quiet "$unit.timer"; then
            systemctl stop "$unit.timer"
            echo disarmed
        else
            echo "fired: the systemd timer $unit.timer had already run"
        fi
        systemctl reset-failed "$unit.service" "$unit.timer" >/dev/null 2>&1 || true
        ;;
    detached)
        pid=$(cat "$dir/rollback.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -- "-$pid" 2>/dev/null || kill "$pid"
            echo disarmed
        else
            echo "fired: the rollback process had already run"
        fi
        rm -f "$dir/rollback.pid"
        ;;
    *)
        echo "disarmed: no rollback was armed"
        ;;
    esac
    rm -f "$dir/mode"
}

case $action in
arm)
    umask 077
    mkdir -p "$dir"
    disarm >/dev/null  # a rollback left over from an interrupted run
    {
        printf 'table inet %s {}\ndelete table inet %s\n' "$table" "$table"
        nft list table inet "$table" 2>/dev/null || true
    } >"$dir/rollback.nft.tmp"
    nft -c -f "$dir/rollback.nft.tmp"  # the saved table must load, or nothing is armed
    mv "$dir/rollback.nft.tmp" "$dir/rollback.nft"
    nft_bin=$(command -v nft)
    if systemd_runs; then
        systemd-run --quiet --unit "$unit" --description "bulwark.hardening: restore the previous firewall table" \
            --on-active="${timeout}s" --timer-property=AccuracySec=1s \
            "$nft_bin" -f "$dir/rollback.nft"
        echo systemd >"$dir/mode"
    else
        # shellcheck disable=SC2016  # the inner shell expands its own positional parameters
        setsid sh -c 'sleep "$1" && "$2" -f "$3"; rm -f "$4"' rollback "$timeout" "$nft_bin" \
            "$dir/rollback.nft" "$dir/rollback.pid" </dev/null >/dev/null 2>&1 &
        echo $! >"$dir/rollback.pid"
        echo detached >"$dir/mode"
    fi
    echo "armed ($(cat "$dir/mode")): table inet $table is restored from $dir/rollback.nft in $timeout s"
    ;;
disarm)
    disarm
    ;;
*)
    echo "usage: $0 arm|disarm DIR TABLE TIMEOUT UNIT" >&2
    exit 2
    ;;
esac
