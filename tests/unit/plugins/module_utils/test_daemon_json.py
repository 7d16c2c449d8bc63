# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import sys
import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils._daemon_json_schema import SCHEMA, TYPES
from ansible_collections.bulwark.hardening.plugins.module_utils.daemon_json import (
    REDACTED,
    DaemonJsonError,
    conflicts_message,
    dockerd_flag_uses,
    dockerd_supports_validate,
    environment_files,
    find_conflicts,
    merge_managed,
    normalize_allow_unknown,
    parse_daemon_json,
    plan,
    redact,
    render_daemon_json,
    secret_values,
    validate_settings,
)

PATH = "/etc/docker/daemon.json"

# Debian 12's docker.io 20.10.24 unit, verbatim where it matters (ExecStart is line 14).
DEBIAN_UNIT = """\
[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target docker.socket firewalld.service containerd.service
Wants=network-online.target containerd.service
Requires=docker.socket

[Service]
Type=notify
# the default is not to use systemd for cgroups because the delegate issues still
# exists and systemd currently does not support the cgroup feature set required
# for containers run by docker
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
"""
UNIT = "/lib/systemd/system/docker.service"
DROPIN = "/etc/systemd/system/docker.service.d/override.conf"
RESET_DROPIN = """\
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
"""
FIX_FD = (
    "override ExecStart in a systemd drop-in, e.g. /etc/systemd/system/docker.service.d/override.conf"
    " with the lines '[Service]', 'ExecStart=' and"
    " 'ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS',"
    " then run 'systemctl daemon-reload'; or do not set 'hosts' in daemon.json."
    " To keep socket activation, list 'fd://' in hosts."
)


# --------------------------------------------------------------------------- parse / render


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", {}),
        (b"  \n\t\n", {}),
        (b"{}", {}),
        (b'{"icc": false, "x-unknown": [1, 2]}', {"icc": False, "x-unknown": [1, 2]}),
        (b'\xef\xbb\xbf{"icc": true}', {"icc": True}),  # UTF-8 with BOM, as Notepad writes it
        ('{"icc": true}'.encode("utf-16"), {"icc": True}),  # UTF-16 with BOM
        ('{"labels": ["café=1"]}', {"labels": ["café=1"]}),  # text in, too
    ],
)
def test_parse(data: bytes | str, expected: dict[str, t.Any]) -> None:
    assert parse_daemon_json(data, PATH) == expected


@pytest.mark.parametrize(
    "data, message",
    [
        (
            b'{\n  "icc": false,\n  "live-restore": true,\n  "debug" true\n}\n',
            "daemon.json at /etc/docker/daemon.json is not valid JSON (line 4, column 11); nothing was changed.",
        ),
        (
            b'{"icc": false,}',
            # Python 3.13 points at the trailing comma, older versions just after it.
            "daemon.json at /etc/docker/daemon.json is not valid JSON (line 1, column %d); nothing was changed."
            % (14 if sys.version_info >= (3, 13) else 15),
        ),
        (
            b'{"icc": false',
            "daemon.json at /etc/docker/daemon.json is not valid JSON (line 1, column 14); nothing was changed.",
        ),
        (
            b'["icc"]',
            "daemon.json at /etc/docker/daemon.json is not valid: the top level is an array, not an object;"
            " nothing was changed.",
        ),
        (
            b'"icc"',
            "daemon.json at /etc/docker/daemon.json is not valid: the top level is a string, not an object;"
            " nothing was changed.",
        ),
        (
            b"null",
            "daemon.json at /etc/docker/daemon.json is not valid: the top level is null, not an object;"
            " nothing was changed.",
        ),
        (
            b'{"icc": true, "icc": false}',
            "daemon.json at /etc/docker/daemon.json has the key 'icc' more than once; remove the duplicate by hand."
            " Nothing was changed.",
        ),
        (
            b'{"mtu": NaN}',
            "daemon.json at /etc/docker/daemon.json is not valid JSON (NaN is not a JSON value); nothing was changed.",
        ),
        (
            b'{"labels": ["\xff"]}',
            "daemon.json at /etc/docker/daemon.json is not valid UTF-8 (byte 13); nothing was changed.",
        ),
    ],
)
def test_parse_errors(data: bytes, message: str) -> None:
    with pytest.raises(DaemonJsonError) as exc:
        parse_daemon_json(data, PATH)
    assert str(exc.value) == message


def test_daemon_json_error_is_a_value_error() -> None:
    assert issubclass(DaemonJsonError, ValueError)


@pytest.mark.parametrize(
    "config, expected",
    [
        ({}, "{}\n"),
        ({"icc": False}, '{\n  "icc": false\n}\n'),
        (
            {
                "log-opts": {"max-size": "10m", "max-file": "3"},
                "icc": False,
                "hosts": ["fd://", "tcp://0.0.0.0:2376"],
                "default-ulimits": {},
                "labels": [],
                "mtu": 1450,
            },
            "{\n"
            '  "default-ulimits": {},\n'
            '  "hosts": [\n'
            '    "fd://",\n'
            '    "tcp://0.0.0.0:2376"\n'
            "  ],\n"
            '  "icc": false,\n'
            '  "labels": [],\n'
            '  "log-opts": {\n'
            '    "max-file": "3",\n'
            '    "max-size": "10m"\n'
            "  },\n"
            '  "mtu": 1450\n'
            "}\n",
        ),
        ({"labels": ["owner=José"]}, '{\n  "labels": [\n    "owner=José"\n  ]\n}\n'),
    ],
)
def test_render_is_byte_exact(config: dict[str, t.Any], expected: str) -> None:
    assert render_daemon_json(config) == expected
    assert json.loads(expected) == config


def test_render_parse_round_trip() -> None:
    config = {"b": [1, {"z": None}], "a": {"y": True, "x": 1.5}}
    assert parse_daemon_json(render_daemon_json(config).encode(), PATH) == config


# --------------------------------------------------------------------------- plan


@pytest.mark.parametrize(
    "current, settings, remove, after, item_status",
    [
        pytest.param(
            {"x-vendor-key": {"a": 1}, "debug": True},
            {"icc": False},
            [],
            {"x-vendor-key": {"a": 1}, "debug": True, "icc": False},
            {"icc": "changed"},
            id="keeps-keys-it-does-not-manage",
        ),
        pytest.param(
            {"icc": False, "live-restore": True},
            {"icc": False, "live-restore": True},
            [],
            {"icc": False, "live-restore": True},
            {"icc": "ok", "live-restore": "ok"},
            id="converged",
        ),
        pytest.param({"icc": True}, {"icc": False}, [], {"icc": False}, {"icc": "changed"}, id="change-value"),
        pytest.param(
            {"cluster-store": "consul://x", "debug": True},
            {},
            ["cluster-store", "graph"],
            {"debug": True},
            {"cluster-store": "changed", "graph": "ok"},
            id="remove-present-and-absent",
        ),
        pytest.param(
            {"log-opts": {"max-size": "10m", "max-file": "3", "compress": "true"}},
            {"log-opts": {"max-size": "10m", "max-file": "3"}},
            [],
            {"log-opts": {"max-size": "10m", "max-file": "3"}},
            {"log-opts": "changed"},
            id="dict-value-replaced-as-a-whole",
        ),
        pytest.param(
            {"log-opts": {"max-file": "3", "max-size": "10m"}},
            {"log-opts": {"max-size": "10m", "max-file": "3"}},
            [],
            {"log-opts": {"max-file": "3", "max-size": "10m"}},
            {"log-opts": "ok"},
            id="dict-member-order-does-not-matter",
        ),
        pytest.param(
            {"dns": ["1.1.1.1", "8.8.8.8"]},
            {"dns": ["8.8.8.8", "1.1.1.1"]},
            [],
            {"dns": ["8.8.8.8", "1.1.1.1"]},
            {"dns": "changed"},
            id="list-order-matters",
        ),
        pytest.param({"x-flag": 1}, {"x-flag": True}, [], {"x-flag": True}, {"x-flag": "changed"}, id="true-is-not-1"),
    ],
)
def test_plan(
    current: dict[str, t.Any],
    settings: dict[str, t.Any],
    remove: list[str],
    after: dict[str, t.Any],
    item_status: dict[str, str],
) -> None:
    result = plan(current, settings, remove, allow_unknown=True)
    assert result.after == after
    assert result.before == current
    assert result.item_status == item_status
    assert result.changed_keys == tuple(sorted(k for k, v in item_status.items() if v == "changed"))
    assert result.changed is bool(result.changed_keys)
    assert result.managed_keys == tuple(sorted(item_status))


def test_plan_does_not_alias_its_inputs() -> None:
    current = {"log-opts": {"max-size": "1m"}}
    settings = {"default-ulimits": {"nofile": {"Name": "nofile", "Hard": 2, "Soft": 1}}}
    result = plan(current, settings)
    result.after["log-opts"]["max-size"] = "2m"
    result.after["default-ulimits"]["nofile"]["Hard"] = 3
    assert current == {"log-opts": {"max-size": "1m"}}
    assert settings["default-ulimits"]["nofile"]["Hard"] == 2


def test_plan_diff_shows_managed_keys_only() -> None:
    result = plan({"icc": True, "debug": True, "graph": "/x"}, {"icc": False, "live-restore": True}, ["graph"])
    assert result.diff() == {"before": {"icc": True, "graph": "/x"}, "after": {"icc": False, "live-restore": True}}


def test_plan_diff_redacts_proxy_passwords() -> None:
    settings = {"proxies": {"https-proxy": "http://bob:s3cret@proxy:3128", "no-proxy": "localhost"}}
    result = plan({}, settings)
    assert result.diff()["after"] == {
        "proxies": {"https-proxy": f"http://bob:{REDACTED}@proxy:3128", "no-proxy": "localhost"}
    }
    assert "s3cret" not in json.dumps(result.diff())


def test_merge_managed() -> None:
    assert merge_managed({"a": 1, "icc": True}, {"icc": False}, ["a"]) == {"icc": False}


def test_plan_warns_about_deprecated_keys() -> None:
    result = plan({}, {"oom-score-adjust": -500})
    assert result.warnings == ("settings.oom-score-adjust: deprecated in Docker 24 and removed in Docker 25.",)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "settings",
    [
        {"icc": False, "live-restore": True, "no-new-privileges": True, "userland-proxy": False},
        {"log-level": "info", "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}},
        {"hosts": ["fd://", "unix:///var/run/docker.sock", "tcp://0.0.0.0:2376", "127.0.0.1:2375"]},
        {"tls": True, "tlsverify": True, "tlscacert": "/c/ca.pem", "tlscert": "/c/c.pem", "tlskey": "/c/k.pem"},
        {"userns-remap": "default"},
        {"userns-remap": "dockremap:dockremap"},
        {"default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}},
        {"default-address-pools": [{"base": "172.30.0.0/16", "size": 24}]},
        {"insecure-registries": [], "registry-mirrors": ["https://mirror.example"]},
        {
            "labels": ["env=prod"],
            "dns": ["1.1.1.1", "2606:4700:4700::1111"],
            "exec-opts": ["native.cgroupdriver=systemd"],
        },
        {"features": {"buildkit": True}, "builder": {"gc": {"enabled": True}}},
        {"runtimes": {"crun": {"path": "/usr/bin/crun"}}, "default-runtime": "runc"},
        {"proxies": {"http-proxy": "http://p:3128", "no-proxy": "localhost"}},
        {"mtu": 1450, "max-concurrent-downloads": 3, "default-shm-size": "64M", "seccomp-profile": "builtin"},
    ],
)
def test_valid_settings(settings: dict[str, t.Any]) -> None:
    assert validate_settings(settings) == []


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"live_restore": True},
            "settings: unknown daemon.json key 'live_restore'; did you mean 'live-restore'?"
            " If your dockerd knows this key, list it in allow_unknown_keys.",
        ),
        (
            {"host": ["tcp://0.0.0.0:2376"]},
            "settings: unknown daemon.json key 'host'; did you mean 'hosts'?"
            " If your dockerd knows this key, list it in allow_unknown_keys.",
        ),
        (
            {"insecure-registry": ["r:5000"]},
            "settings: unknown daemon.json key 'insecure-registry'; did you mean 'insecure-registries'?"
            " If your dockerd knows this key, list it in allow_unknown_keys.",
        ),
        (
            {"zzz": 1},
            "settings: unknown daemon.json key 'zzz'. If your dockerd knows this key, list it in allow_unknown_keys.",
        ),
        ({"icc": "false"}, "settings.icc: expected bool, got str ('false'); write it without quotes."),
        ({"icc": 0}, "settings.icc: expected bool, got int (0)."),
        ({"mtu": "1450"}, "settings.mtu: expected int, got str ('1450'); write it without quotes."),
        ({"mtu": True}, "settings.mtu: expected int, got bool (true)."),
        ({"mtu": 1450.0}, "settings.mtu: expected int, got float (1450.0)."),
        ({"mtu": -1}, "settings.mtu: -1 is negative; use 0 or more."),
        ({"hosts": "tcp://0.0.0.0:2376"}, "settings.hosts: expected list[str], got str ('tcp://0.0.0.0:2376')."),
        (
            {"hosts": ["fd://", 2376]},
            "settings.hosts[1]: expected str, got int (2376); write it as a string, e.g. '2376'.",
        ),
        (
            {"log-opts": {"max-size": "10m", "max-file": 3}},
            "settings.log-opts.max-file: expected str, got int (3); write it as a string, e.g. '3'.",
        ),
        ({"log-opts": ["max-size=10m"]}, 'settings.log-opts: expected dict[str,str], got list (["max-size=10m"]).'),
        ({"features": {"buildkit": "yes"}}, "settings.features.buildkit: expected bool, got str ('yes')."),
        (
            {"log-level": "verbose"},
            "settings.log-level: 'verbose' is not allowed; use one of: debug, info, warn, error, fatal.",
        ),
        (
            {"default-cgroupns-mode": "shared"},
            "settings.default-cgroupns-mode: 'shared' is not allowed; use one of: host, private.",
        ),
        (
            {"userns-remap": "root"},
            "settings.userns-remap: 'root' is not allowed; use 'default' or 'USER[:GROUP]' of an unprivileged user.",
        ),
        (
            {"userns-remap": "0:0"},
            "settings.userns-remap: '0:0' is not allowed; use 'default' or 'USER[:GROUP]' of an unprivileged user.",
        ),
        (
            {"hosts": ["ssh://me@host"]},
            "settings.hosts[0]: 'ssh://me@host' uses the scheme 'ssh'; dockerd listens on unix://, tcp://, fd://,"
            " npipe:// addresses only.",
        ),
        ({"hosts": [" "]}, "settings.hosts[0]: an empty address is not allowed."),
        ({"labels": ["prod"]}, "settings.labels[0]: 'prod' is not a valid label; use 'key=value'."),
        (
            {"exec-opts": ["native.cgroupdriver="]},
            "settings.exec-opts[0]: 'native.cgroupdriver=' is not a valid exec-opt; use 'opt=value'.",
        ),
        ({"dns": ["dns.google"]}, "settings.dns[0]: 'dns.google' is not an IP address."),
        (
            {"default-address-pools": [{"base": "172.30.0.0/16"}]},
            "settings.default-address-pools[0]: expected an object with 'base' (a CIDR) and 'size' (a prefix length).",
        ),
        (
            {"default-address-pools": [{"base": "172.30.0.0/16", "size": 8}]},
            "settings.default-address-pools[0].size: 8 must be between the prefix length of base (16) and 32.",
        ),
        (
            {"default-address-pools": [{"base": "172.30.0.0", "size": "24"}]},
            "settings.default-address-pools[0].size: expected int, got str ('24'); write it without quotes.",
        ),
        (
            {"default-ulimits": {"nofile": {"Name": "nofile", "Hard": 1024, "Soft": 2048}}},
            "settings.default-ulimits.nofile: Soft (2048) must not be greater than Hard (1024).",
        ),
        (
            {"default-ulimits": {"nofile": {"Name": "nproc", "Hard": 1, "Soft": 1}}},
            "settings.default-ulimits.nofile.Name: 'nproc' must be the same as the key 'nofile'.",
        ),
        ({"default-ulimits": {"nofile": 64000}}, "settings.default-ulimits.nofile: expected dict, got int (64000)."),
        (
            {"proxies": {"http_proxy": "http://p:3128"}},
            "settings.proxies: unknown member 'http_proxy'; did you mean 'http-proxy'?"
            " allowed: http-proxy, https-proxy, no-proxy.",
        ),
        ({"icc": None}, "settings.icc: the value is null; to delete the key, list it in remove."),
        (
            {"icc": "no", "mtu": "x"},
            "settings.icc: expected bool, got str ('no'). settings.mtu: expected int, got str ('x').",
        ),
    ],
)
def test_invalid_settings(settings: dict[str, t.Any], message: str) -> None:
    with pytest.raises(DaemonJsonError) as exc:
        validate_settings(settings)
    assert str(exc.value) == message
    with pytest.raises(DaemonJsonError):  # plan() refuses the same input
        plan({}, settings)


def test_secret_values_are_not_echoed_in_type_errors() -> None:
    with pytest.raises(DaemonJsonError) as exc:
        validate_settings({"x-api-token": 1, "proxies": {"x-password": 5}}, allow_unknown=True)
    assert str(exc.value) == "settings.proxies.x-password: expected str, got int."


def test_set_and_remove_the_same_key() -> None:
    with pytest.raises(DaemonJsonError) as exc:
        plan({}, {"icc": False, "debug": True}, ["debug", "icc", "graph"])
    assert str(exc.value) == "remove: 'debug', 'icc' are also in settings; a key is either set or removed."


@pytest.mark.parametrize(
    "allow, key, ok",
    [
        (False, "x-new", False),
        (True, "x-new", True),
        (["x-new"], "x-new", True),
        (["x-other"], "x-new", False),
        ([], "x-new", False),
    ],
)
def test_allow_unknown_keys(allow: t.Any, key: str, ok: bool) -> None:
    allowed = normalize_allow_unknown(allow)
    if ok:
        assert plan({}, {key: 1}, allow_unknown=allowed).after == {key: 1}
    else:
        with pytest.raises(DaemonJsonError, match=f"unknown daemon.json key '{key}'"):
            plan({}, {key: 1}, allow_unknown=allowed)


def test_allowed_unknown_keys_do_not_disable_type_checks() -> None:
    with pytest.raises(DaemonJsonError, match=r"^settings\.icc: expected bool"):
        plan({}, {"icc": "off"}, allow_unknown=True)


@pytest.mark.parametrize(
    "value, message",
    [
        ("yes", "allow_unknown_keys: expected a bool or a list of key names, got str ('yes')."),
        ([1], "allow_unknown_keys: expected a bool or a list of key names, got list ([1])."),
        (None, "allow_unknown_keys: expected a bool or a list of key names, got null."),
    ],
)
def test_allow_unknown_keys_errors(value: t.Any, message: str) -> None:
    with pytest.raises(DaemonJsonError) as exc:
        normalize_allow_unknown(value)
    assert str(exc.value) == message


def test_schema_is_well_formed() -> None:
    assert len(SCHEMA) >= 90
    for key, spec in SCHEMA.items():
        assert spec.type in TYPES, key
        assert key == key.lower() and " " not in key, key
        assert all(flag and not flag.startswith("-") for flag in spec.flag_names(key)), key


# --------------------------------------------------------------------------- secrets


def test_redact() -> None:
    value = {
        "proxies": {"http-proxy": "http://u:p4ss@proxy:3128", "no-proxy": "x"},
        "registry-mirrors": ["https://user:pw@mirror"],
        "x-token": "abc",
        "icc": False,
    }
    assert redact(value) == {
        "proxies": {"http-proxy": f"http://u:{REDACTED}@proxy:3128", "no-proxy": "x"},
        "registry-mirrors": [f"https://user:{REDACTED}@mirror"],
        "x-token": REDACTED,
        "icc": False,
    }
    assert secret_values(value) == {"p4ss", "pw", "abc"}


# --------------------------------------------------------------------------- dockerd flags


def _conflicts(config: dict[str, t.Any], sources: dict[str, str]) -> list[dict[str, t.Any]]:
    return [c.as_dict() for c in find_conflicts(config, dockerd_flag_uses(sources))]


def test_debian_unit_flags() -> None:
    uses = dockerd_flag_uses({UNIT: DEBIAN_UNIT})
    assert [(u.name, u.text, u.value, u.origin.line) for u in uses] == [
        ("H", "-H fd://", "fd://", 14),
        ("containerd", "--containerd=/run/containerd/containerd.sock", "/run/containerd/containerd.sock", 14),
    ]
    assert environment_files({UNIT: DEBIAN_UNIT}) == ["/etc/default/docker"]


def test_hosts_conflicts_with_packaged_unit() -> None:
    assert _conflicts({"hosts": ["unix:///var/run/docker.sock"], "icc": False}, {UNIT: DEBIAN_UNIT}) == [
        {"key": "hosts", "flag": "-H fd://", "source": UNIT, "line": 14, "via": "ExecStart", "fix": FIX_FD}
    ]


def test_dropin_with_execstart_reset_resolves_the_conflict() -> None:
    sources = {UNIT: DEBIAN_UNIT, DROPIN: RESET_DROPIN}
    assert _conflicts({"hosts": ["fd://", "tcp://0.0.0.0:2376"]}, sources) == []
    # ... but the drop-in's own flags count.
    assert [c["key"] for c in _conflicts({"containerd": "/x.sock"}, sources)] == ["containerd"]
    assert _conflicts({"containerd": "/x.sock"}, sources)[0]["source"] == DROPIN
    assert _conflicts({"containerd": "/x.sock"}, sources)[0]["line"] == 3


def test_dropin_without_reset_adds_a_command() -> None:
    sources = {UNIT: DEBIAN_UNIT, DROPIN: "[Service]\nExecStart=/usr/sbin/dockerd --debug\n"}
    uses = dockerd_flag_uses(sources)
    assert [(u.name, u.origin.source) for u in uses] == [("H", UNIT), ("containerd", UNIT), ("debug", DROPIN)]


def test_last_reset_wins_and_dropins_apply_in_file_name_order() -> None:
    sources = {
        UNIT: DEBIAN_UNIT,
        "/etc/systemd/system/docker.service.d/20-debug.conf": "[Service]\nExecStart=\nExecStart=dockerd -D\n",
        "/etc/systemd/system/docker.service.d/10-tls.conf": "[Service]\nExecStart=\nExecStart=dockerd --tlsverify\n",
    }
    assert [u.text for u in dockerd_flag_uses(sources)] == ["-D"]


def test_dropin_in_etc_masks_one_with_the_same_name_in_run() -> None:
    sources = {
        UNIT: DEBIAN_UNIT,
        "/run/systemd/system/docker.service.d/override.conf": "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -D\n",
        DROPIN: RESET_DROPIN,
    }
    assert [u.name for u in dockerd_flag_uses(sources)] == ["containerd"]


def test_unit_in_etc_masks_the_packaged_one() -> None:
    sources = {
        UNIT: DEBIAN_UNIT,
        "/etc/systemd/system/docker.service": "[Service]\nExecStart=/usr/bin/dockerd --icc=false\n",
    }
    assert [u.text for u in dockerd_flag_uses(sources)] == ["--icc=false"]


def test_execstart_in_other_sections_is_ignored() -> None:
    text = "[Unit]\nExecStart=/usr/sbin/dockerd -D\n[Install]\nExecStart=/usr/sbin/dockerd -D\n"
    assert dockerd_flag_uses({UNIT: text}) == []


def test_continuation_lines_and_comments() -> None:
    text = (
        "[Service]\n"
        "# ExecStart=/usr/sbin/dockerd --debug\n"
        "ExecStart=/usr/sbin/dockerd \\\n"
        "  --log-level warn \\\n"
        "# a comment inside the continuation\n"
        "  --label 'team=platform' \\\n"
        "  -G docker\n"
    )
    uses = dockerd_flag_uses({UNIT: text})
    assert [(u.name, u.value, u.origin.line) for u in uses] == [
        ("log-level", "warn", 3),
        ("label", "team=platform", 3),
        ("G", "docker", 3),
    ]


@pytest.mark.parametrize(
    "execstart, config, keys",
    [
        ("/usr/sbin/dockerd -D", {"debug": True}, ["debug"]),
        ("/usr/sbin/dockerd --debug=false", {"debug": True}, ["debug"]),
        ("/usr/sbin/dockerd -l debug", {"log-level": "info"}, ["log-level"]),
        ("/usr/sbin/dockerd --log-level=debug", {"log-level": "info"}, ["log-level"]),
        ("/usr/sbin/dockerd -Dl debug", {"log-level": "info", "debug": True}, ["debug", "log-level"]),
        ("/usr/sbin/dockerd -Hunix:///x.sock", {"hosts": []}, ["hosts"]),
        ("/usr/sbin/dockerd --label a=b --label c=d", {"labels": ["e=f"]}, ["labels", "labels"]),
        ("/usr/sbin/dockerd --insecure-registry r:5000", {"insecure-registries": []}, ["insecure-registries"]),
        ("/usr/sbin/dockerd --log-opt max-size=1m", {"log-opts": {}}, ["log-opts"]),
        ("/usr/sbin/dockerd --default-ulimit nofile=1:2", {"default-ulimits": {}}, ["default-ulimits"]),
        ("/usr/sbin/dockerd --http-proxy http://p", {"proxies": {"http-proxy": "x"}}, ["proxies.http-proxy"]),
        ("/usr/sbin/dockerd --http-proxy http://p", {"proxies": {"no-proxy": "x"}}, []),
        ("/usr/sbin/dockerd --add-runtime crun=/usr/bin/crun", {"runtimes": {}}, []),  # dockerd merges these
        ("/usr/sbin/dockerd --config-file /etc/docker/daemon.json", {"icc": True}, []),
        ("/usr/sbin/dockerd --x-new-thing 1", {"x-new-thing": 2}, ["x-new-thing"]),
        ("/usr/sbin/dockerd -H fd:// -- --debug", {"debug": True}, []),
        ("-/usr/sbin/dockerd --icc=false", {"icc": True}, ["icc"]),
        ("@/usr/sbin/dockerd dockerd --icc=false", {"icc": True}, ["icc"]),
    ],
)
def test_flag_to_key_conflicts(execstart: str, config: dict[str, t.Any], keys: list[str]) -> None:
    sources = {UNIT: f"[Service]\nExecStart={execstart}\n"}
    assert [c["key"] for c in _conflicts(config, sources)] == keys


def test_flags_from_environment_file() -> None:
    sources = {
        UNIT: DEBIAN_UNIT,
        "/etc/default/docker": (
            '# Docker options\n#DOCKER_OPTS="--dns 8.8.8.8"\nDOCKER_OPTS="--icc=false --dns 1.1.1.1"\n'
        ),
    }
    assert _conflicts({"icc": True, "dns": []}, sources) == [
        {
            "key": "icc",
            "flag": "--icc=false",
            "source": "/etc/default/docker",
            "line": 3,
            "via": "DOCKER_OPTS",
            "fix": (
                "remove '--icc=false' from DOCKER_OPTS in /etc/default/docker (line 3),"
                " or do not set 'icc' in daemon.json."
            ),
        },
        {
            "key": "dns",
            "flag": "--dns 1.1.1.1",
            "source": "/etc/default/docker",
            "line": 3,
            "via": "DOCKER_OPTS",
            "fix": (
                "remove '--dns 1.1.1.1' from DOCKER_OPTS in /etc/default/docker (line 3),"
                " or do not set 'dns' in daemon.json."
            ),
        },
    ]


def test_environment_file_not_named_by_the_unit_is_ignored() -> None:
    unit = DEBIAN_UNIT.replace("EnvironmentFile=-/etc/default/docker\n", "")
    sources = {UNIT: unit, "/etc/default/docker": "DOCKER_OPTS=--icc=false\n"}
    assert _conflicts({"icc": True}, sources) == []


def test_environment_directive_and_braced_variables() -> None:
    unit = (
        '[Service]\nEnvironment="OPTS=-D --tls" "SOCK=/run/x.sock"\n'
        "ExecStart=/usr/sbin/dockerd $OPTS --containerd=${SOCK}\n"
    )
    uses = dockerd_flag_uses({UNIT: unit})
    assert [(u.text, u.origin.via) for u in uses] == [
        ("-D", "OPTS"),
        ("--tls", "OPTS"),
        ("--containerd=/run/x.sock", "ExecStart"),
    ]


def test_environment_file_without_a_unit_is_sysvinit_style() -> None:
    sources = {"/etc/default/docker": "export DOCKER_OPTS='-H tcp://0.0.0.0:2375 --debug'\nOTHER=--icc=false\n"}
    assert [(c["key"], c["flag"]) for c in _conflicts({"hosts": [], "debug": True, "icc": True}, sources)] == [
        ("hosts", "-H tcp://0.0.0.0:2375"),
        ("debug", "--debug"),
    ]


def test_one_suggested_execstart_without_every_conflicting_flag() -> None:
    conflicts = find_conflicts(
        {"hosts": ["fd://"], "containerd": "/run/containerd/containerd.sock"}, dockerd_flag_uses({UNIT: DEBIAN_UNIT})
    )
    assert [c.key for c in conflicts] == ["hosts", "containerd"]
    for conflict in conflicts:
        assert "'ExecStart=/usr/sbin/dockerd $DOCKER_OPTS'" in conflict.fix


def test_proxy_passwords_are_masked_in_conflicts() -> None:
    sources = {UNIT: "[Service]\nExecStart=/usr/sbin/dockerd --https-proxy=http://u:hunter2@p:3128\n"}
    conflicts = _conflicts({"proxies": {"https-proxy": "http://p:3128"}}, sources)
    assert conflicts[0]["flag"] == f"--https-proxy=http://u:{REDACTED}@p:3128"
    assert "hunter2" not in json.dumps(conflicts)


def test_conflicts_message() -> None:
    conflicts = find_conflicts({"hosts": ["tcp://0.0.0.0:2376"]}, dockerd_flag_uses({UNIT: DEBIAN_UNIT}))
    assert conflicts_message(conflicts, PATH) == (
        "dockerd refuses to start when a directive is both a flag and a daemon.json key (moby/moby#25471):"
        " 'hosts' in /etc/docker/daemon.json is also given to dockerd as '-H fd://'"
        f" (ExecStart in {UNIT}, line 14); fix: {FIX_FD} Nothing was changed."
    )


def test_unbalanced_quotes_do_not_crash() -> None:
    uses = dockerd_flag_uses({UNIT: "[Service]\nExecStart=/usr/sbin/dockerd --label 'a=b -D\n"})
    assert [u.name for u in uses] == ["label", "D"]


@pytest.mark.parametrize(
    "help_text, expected",
    [
        ("Usage:\tdockerd [OPTIONS]\n      --userns-remap string   User/Group\n", False),
        ("      --validate                              Validate daemon configuration and exit\n", True),
        ("--validate Validate", True),
        ("      --validated-thing", False),
    ],
)
def test_dockerd_supports_validate(help_text: str, expected: bool) -> None:
    assert dockerd_supports_validate(help_text) is expected
