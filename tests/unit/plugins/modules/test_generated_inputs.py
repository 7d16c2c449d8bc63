# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generated bad and hostile input for the modules that write files, run in check and in normal mode
against temporary files: every run ends in a result or in a failure whose message names what is
wrong (never a traceback), a failure leaves the target byte for byte as it was, check mode never
changes it, and a secret given to the module never reaches its output.

Each test draws at least 200 cases (settings below).
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.bulwark.hardening.plugins.modules import (
    audit_rules,
    docker_daemon_config,
    kube_encryption_config,
    path_permissions,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CASES = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SECRET = "S3NT1NEL-pw"  # in a proxy URL or a key; must never be printed
_TEXT = st.lists(st.sampled_from(list("ab/.:@-_ \n\t\x00é") + ["..", "Infinity"]), max_size=8).map("".join)
_SCALAR = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | _TEXT
_ANY = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8)
_MODE = st.none() | st.sampled_from(["0644", "0600", "rwx", "0999", "u=rw,go=", "", "0644\n"]) | st.integers(-1, 2**13)
_OWNER = st.none() | st.sampled_from(["root", "0", "nobody-bulwark-x", "", "ro\x00ot", "4294967296"])
_EXISTING = st.sampled_from(
    [
        None,  # no file
        b"",
        b'{"icc": true, "max-concurrent-downloads": 4}\n',
        b'{"icc": true,,}',
        b'{"a": 1, "a": 2}',
        b'{"x": NaN}',
        b"[1, 2]",
        b"\xff\xfe\x00garbage",
        b"[" * 50_000,
        b'{"proxies": {"http-proxy": "http://u:' + SECRET.encode() + b'@h:3128"}}',
    ]
)


def run(module: t.Any, capsys: pytest.CaptureFixture[str], args: dict[str, t.Any], remote_tmp: Path) -> tuple[int, str]:
    args = {"_ansible_remote_tmp": str(remote_tmp), "_ansible_keep_remote_files": False, **args}
    capsys.readouterr()
    root = os.stat("/")
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        module.main()
    # Defence in depth: no generated case reaches beyond its directory (see _inside).
    assert os.stat("/")[:6] == root[:6]
    return int(exc.value.code or 0), capsys.readouterr().out


def check_result(rc: int, out: str) -> dict[str, t.Any]:
    result = json.loads(out)  # one JSON answer, whatever happened
    assert rc in (0, 1), out
    assert "MODULE FAILURE" not in out and "Traceback" not in out, out
    assert SECRET not in out, out
    if result.get("failed"):
        assert str(result.get("msg") or "").strip(), out
    return result


def run_on_files(module: t.Any, capsys: pytest.CaptureFixture[str], work: Path, remote: Path, args: dict[str, t.Any]) -> None:
    """Run MODULE once on the files in WORK: a failure, or check mode, leaves them byte for byte as they were."""
    before = snapshot(work)
    result = check_result(*run(module, capsys, args, remote))
    if result.get("failed") or args.get("_ansible_check_mode"):
        assert snapshot(work) == before


def snapshot(directory: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in sorted(directory.rglob("*"))
        if "remote-tmp" not in p.parts
    }


def _inside(work: Path, path: t.Any) -> t.Any:
    """A generated path, kept inside WORK whatever it says. A run in normal mode changes what it is
    given, so nothing generated may name a path of this machine: an absolute path is re-rooted in
    WORK, and one that climbs with '..' (or starts with relative/) is left relative, which the
    modules must refuse."""
    if not isinstance(path, str) or not path or "\x00" in path:
        return path
    if path.startswith("relative/") or ".." in path.split("/"):
        return "relative/" + path.lstrip("/")
    return f"{work}/{path.lstrip('/')}"


def _with_path(work: Path, entry: t.Any) -> t.Any:
    return dict(entry, path=_inside(work, entry["path"])) if isinstance(entry, dict) and "path" in entry else entry


def _workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("case")
    remote = work / "remote-tmp"
    remote.mkdir()
    return work / "t", remote


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "normal"])
@CASES
@given(
    existing=_EXISTING,
    settings_=st.none() | st.dictionaries(
        st.sampled_from(["icc", "log-level", "live-restore", "hosts", "x-new", "proxies", "default-ulimits", "data-root"]) | _TEXT,
        _ANY | st.just({"http-proxy": f"http://u:{SECRET}@h:3128"}),
        max_size=4,
    ) | _ANY,
    remove=st.none() | st.lists(_TEXT, max_size=3) | _ANY,
    allow_unknown=st.sampled_from([False, True, ["x-new"], "x-new", None, 3]),
    mode=_MODE,
    owner=_OWNER,
)
def test_docker_daemon_config(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    check_mode: bool,
    existing: bytes | None,
    settings_: t.Any,
    remove: t.Any,
    allow_unknown: t.Any,
    mode: t.Any,
    owner: t.Any,
) -> None:
    work, remote = _workdir(tmp_path_factory)
    work.mkdir()
    target = work / "daemon.json"
    if existing is not None:
        target.write_bytes(existing)
    args: dict[str, t.Any] = {
        "path": str(target),
        "settings": settings_,
        "remove": remove,
        "allow_unknown_keys": allow_unknown,
        "check_conflicts": False,
        "validate": False,
        "_ansible_check_mode": check_mode,
        "_ansible_diff": True,
    }
    if settings_ is None and remove is None:
        args["settings"] = {"icc": False}
    args.update({k: v for k, v in (("mode", mode), ("owner", owner)) if v is not None})
    run_on_files(docker_daemon_config, capsys, work, remote, args)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "normal"])
@CASES
@given(
    existing=st.sampled_from(
        [
            None,
            b"",
            b"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n",
            b"kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n"
            b"      keys:\n      - {name: k, secret: " + SECRET.encode() + b"}\n      - {name: k2, secret: x, secret: y}\n",
            b"[" * 50_000,
            b": : :",
            b"resources: !!python/object:os.system [x]",
        ]
    ),
    provider=st.sampled_from(["aescbc", "secretbox", "aesgcm", "kms", "", "identity"]) | _ANY,
    resources=st.none() | st.lists(st.sampled_from(["secrets", "configmaps", "", "*.*", "a\nb"]), max_size=3) | _ANY,
    secret=st.none() | st.just(SECRET) | _TEXT,
    key_name=st.none() | _TEXT,
    mode=_MODE,
    owner=_OWNER,
)
def test_kube_encryption_config(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    check_mode: bool,
    existing: bytes | None,
    provider: t.Any,
    resources: t.Any,
    secret: t.Any,
    key_name: t.Any,
    mode: t.Any,
    owner: t.Any,
) -> None:
    work, remote = _workdir(tmp_path_factory)
    work.mkdir()
    target = work / "enc.yaml"
    if existing is not None:
        target.write_bytes(existing)
    args: dict[str, t.Any] = {"path": str(target), "provider": provider, "_ansible_check_mode": check_mode, "_ansible_diff": True}
    args.update(
        {k: v for k, v in (("resources", resources), ("secret", secret), ("key_name", key_name), ("mode", mode), ("owner", owner)) if v is not None}
    )
    run_on_files(kube_encryption_config, capsys, work, remote, args)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "normal"])
@CASES
@given(
    watches=st.lists(
        st.fixed_dictionaries({"path": st.sampled_from(["/etc/hostname", "/x y", "rel", "/a/../b", "/ok/z"]) | _TEXT}, optional={"name": _TEXT}),
        max_size=3,
    ) | _ANY,
    key=st.sampled_from(["docker", "bad key", "", "k" * 40]) | _ANY,
    existing=st.sampled_from([None, b"", b"-w /etc -k docker\n", b"\x00\xff"]),
    fifo=st.booleans(),
)
def test_audit_rules(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    check_mode: bool,
    watches: t.Any,
    key: t.Any,
    existing: bytes | None,
    fifo: bool,
) -> None:
    work, remote = _workdir(tmp_path_factory)
    work.mkdir()
    target = work / "bulwark.rules"
    if fifo:
        os.mkfifo(target)
    elif existing is not None:
        target.write_bytes(existing)
    args = {"path": str(target), "key": key, "watches": watches, "load": False, "_ansible_check_mode": check_mode}
    run_on_files(audit_rules, capsys, work, remote, args)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "normal"])
@CASES
@given(
    paths=st.lists(
        st.fixed_dictionaries(
            {"path": st.sampled_from(["f", "d", "d/sub", "missing", "link", "fifo", "relative/f"]) | _TEXT},
            optional={"owner": _OWNER, "group": _OWNER, "mode": _MODE, "mode_max": _ANY, "recurse": _ANY},
        ),
        max_size=3,
    ) | _ANY,
)
def test_path_permissions(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, check_mode: bool, paths: t.Any
) -> None:
    work, remote = _workdir(tmp_path_factory)
    (work / "d" / "sub").mkdir(parents=True)
    (work / "f").write_bytes(b"x")
    (work / "link").symlink_to(work / "f")
    os.mkfifo(work / "fifo")
    if isinstance(paths, list):
        paths = [_with_path(work, entry) for entry in paths]
    modes = {str(p): p.lstat().st_mode for p in work.rglob("*")}
    result = check_result(*run(path_permissions, capsys, {"paths": paths, "_ansible_check_mode": check_mode}, remote))
    if result.get("failed") or check_mode:
        assert {str(p): p.lstat().st_mode for p in work.rglob("*")} == modes


_FLAG_VALUE = st.none() | _TEXT | st.sampled_from(["/etc/kubernetes/x.yaml", "/audit.log", "/var/log/a.log", "true", "a,b"])


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "normal"])
@CASES
@given(
    manifest=st.sampled_from(["kubeadm", "missing", "empty", "two-commands", "not-a-pod", "deep"]),
    set_=st.none()
    | st.dictionaries(
        st.sampled_from(["profiling", "audit-log-path", "enable-admission-plugins"]) | _TEXT, _FLAG_VALUE | _ANY, max_size=3
    )
    | _ANY,
    remove=st.none() | st.lists(_TEXT, max_size=2) | _ANY,
    files=st.none()
    | st.lists(
        st.fixed_dictionaries(
            {"path": st.sampled_from(["cfg/a.yaml", "cfg/../../escape", "", "cfg/\x00", "relative/a"]) | _TEXT},
            optional={"content": _TEXT | _ANY, "secret_content": st.just(SECRET), "mode": _MODE, "owner": _OWNER},
        ),
        max_size=2,
    )
    | _ANY,
    container=st.none() | st.sampled_from(["kube-apiserver", "nope"]) | _ANY,
)
def test_static_pod(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    check_mode: bool,
    manifest: str,
    set_: t.Any,
    remove: t.Any,
    files: t.Any,
    container: t.Any,
) -> None:
    from ansible_collections.bulwark.hardening.plugins.modules import static_pod
    from ansible_collections.bulwark.hardening.tests.unit.plugins.kube_apiserver_fixtures import KUBE_APISERVER

    work, remote = _workdir(tmp_path_factory)
    (work / "manifests").mkdir(parents=True)
    target = work / "manifests" / "kube-apiserver.yaml"
    content = {
        "kubeadm": KUBE_APISERVER,
        "empty": "",
        "two-commands": KUBE_APISERVER.replace("    image:", "    command: [x]\n    image:", 1),
        "not-a-pod": "kind: Deployment\n",
        "deep": "[" * 50_000,
    }.get(manifest)
    if content is not None:
        target.write_text(content)
    if isinstance(files, list):
        files = [_with_path(work, entry) for entry in files]
    args: dict[str, t.Any] = {
        "path": str(target),
        "set": set_,
        "remove": remove,
        "files": files,
        "container": container,
        "validate_flags": False,
        "check_paths": False,
        "wait": False,
        "backup_dir": str(work / "backups"),
        "_ansible_check_mode": check_mode,
        "_ansible_diff": True,
    }
    run_on_files(static_pod, capsys, work, remote, {k: v for k, v in args.items() if v is not None})


# A command that exists nowhere, so that a case the module accepts waits at most its timeout (1 s).
_COMMAND = st.sampled_from(["bulwark-no-such-process", "kube apiserver", "", "a\nb", "a\x00", "x" * 300, "../bin/x"]) | _TEXT
_TIMEOUT = st.sampled_from([1, 0, -1, 3601, 2**63, "Infinity", "1e999999999", [2**63, None, None]]) | _ANY


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "normal"])
@CASES
@given(
    command=_COMMAND | _ANY,
    manifest=st.sampled_from(["kubeadm", "missing", "deep", "garbage", "relative"]),
    url=st.none()
    | st.sampled_from(["https://127.0.0.1:1/readyz", f"https://u:{SECRET}@127.0.0.1:1/", f"u:{SECRET}@h", "ftp://x"])
    | _TEXT,
    probes=st.booleans() | _ANY,
    timeout=_TIMEOUT,
    stable_for=st.sampled_from([0, 5, -1, 2**40]) | _ANY,
    log_glob=st.none() | st.sampled_from(["/var/log/pods/*.log", "rel/*", "/a\x00"]) | _TEXT,
    log_lines=st.sampled_from([0, 20, -1, 10**9]) | _ANY,
)
def test_static_pod_wait(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    check_mode: bool,
    command: t.Any,
    manifest: str,
    url: t.Any,
    probes: t.Any,
    timeout: t.Any,
    stable_for: t.Any,
    log_glob: t.Any,
    log_lines: t.Any,
) -> None:
    from ansible_collections.bulwark.hardening.plugins.modules import static_pod_wait
    from ansible_collections.bulwark.hardening.tests.unit.plugins.kube_apiserver_fixtures import KUBE_APISERVER

    work, remote = _workdir(tmp_path_factory)
    work.mkdir(parents=True)
    target = work / "kube-apiserver.yaml"
    content = {"kubeadm": KUBE_APISERVER, "deep": "[" * 50_000, "garbage": "\xff: [\n"}.get(manifest)
    if content is not None:
        target.write_text(content)
    args: dict[str, t.Any] = {
        "command": command,
        "manifest": "relative/kube-apiserver.yaml" if manifest == "relative" else str(target),
        "url": url,
        "probes": probes,
        "timeout": timeout,
        "stable_for": stable_for,
        "log_glob": log_glob,
        "log_lines": log_lines,
        "_ansible_check_mode": check_mode,
    }
    run_on_files(static_pod_wait, capsys, work, remote, {k: v for k, v in args.items() if v is not None})


_PORT = st.integers(-1, 70000) | st.sampled_from(["22", "8000-8100", "9-1", "22\n", "0x16", "ssh"]) | _TEXT
_SOURCE = st.sampled_from(["10.0.0.0/8", "10.0.0.1/8", "fd00::/8", "0.0.0.0/0", "10.0.0.0/33", "10.0.0.0/8\n"]) | _TEXT


@CASES
@given(
    policy=st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "input": st.fixed_dictionaries(
                {},
                optional={
                    "allow": st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "ports": st.lists(_PORT, max_size=2) | _ANY,
                                "sources": st.lists(_SOURCE, max_size=2) | _ANY,
                                "service": _TEXT | _ANY,
                                "protocol": st.sampled_from(["tcp", "udp", "icmp", ""]),
                            },
                        ),
                        max_size=2,
                    )
                    | _ANY,
                    "log_rate": st.sampled_from(["5/minute", "5/minute\n", "0/second", "x"]) | _ANY,
                    "icmp_echo": _ANY,
                },
            )
            | _ANY,
            "forward": _ANY,
        },
    )
    | _ANY,
    table=st.sampled_from(["bulwark", "filter", "counter", "x" * 40, "bad name", "nat"]) | _TEXT,
    state=st.sampled_from(["present", "absent", "gone"]),
)
def test_nftables_policy_in_check_mode(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, policy: t.Any, table: t.Any, state: str
) -> None:
    """Check mode only: it reads the host's ruleset and loads the wanted table in a scratch network
    namespace, and changes nothing (the normal mode runs against real namespaces in tests/integration)."""
    from ansible_collections.bulwark.hardening.plugins.modules import nftables_policy

    work, remote = _workdir(tmp_path_factory)
    work.mkdir()
    persist = work / "nftables.nft"
    ruleset = os.popen("nft list ruleset 2>/dev/null").read()
    args = {"policy": policy, "table": table, "state": state, "persist_path": str(persist), "_ansible_check_mode": True, "_ansible_diff": True}
    check_result(*run(nftables_policy, capsys, args, remote))
    assert not persist.exists()
    assert os.popen("nft list ruleset 2>/dev/null").read() == ruleset


@CASES
@given(
    name=st.sampled_from(["docker", "root", "nosuch-bulwark", "", "bad name", "a" * 40, "doc\x00ker"]) | _ANY,
    members=st.lists(st.sampled_from(["root", "nobody", "nosuch-bulwark", "", "a,b", "x\n"]) | _TEXT, max_size=3) | _ANY,
    prune=_ANY,
    create=st.booleans(),
)
def test_group_members_in_check_mode(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, name: t.Any, members: t.Any, prune: t.Any, create: bool
) -> None:
    """Check mode only: the groups are this machine's own. /etc/group stays as it was."""
    from ansible_collections.bulwark.hardening.plugins.modules import group_members

    _work, remote = _workdir(tmp_path_factory)
    before = Path("/etc/group").read_bytes()
    args = {"name": name, "members": members, "prune": prune, "create": create, "_ansible_check_mode": True, "_ansible_diff": True}
    check_result(*run(group_members, capsys, args, remote))
    assert Path("/etc/group").read_bytes() == before
