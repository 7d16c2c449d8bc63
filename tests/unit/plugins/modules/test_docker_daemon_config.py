# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process against files in a temporary directory.

Nothing of the module's logic is replaced: the tests only point the module at other paths
(the daemon.json, the dockerd unit files, and a stand-in ``dockerd`` first on PATH).
"""

from __future__ import annotations

import json
import os
import stat
import typing as t
from pathlib import Path

import pytest

from ansible.module_utils import _internal as ansible_module_utils_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bulwark.hardening.plugins.modules import docker_daemon_config

DEBIAN_UNIT = """\
[Unit]
Description=Docker Application Container Engine
Requires=docker.socket

[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
"""

# A dockerd stand-in. "new" behaves like Docker 23+ (has --validate), "old" like Debian's 20.10.
FAKE_DOCKERD = """\
#!/bin/sh
echo "$@" >> "{log}"
case "$1" in
  --help)
    echo "Usage:	dockerd [OPTIONS]"
    [ "{flavour}" = new ] && echo "      --validate    Validate daemon configuration and exit"
    exit 0 ;;
  --validate)
    [ "{flavour}" = new ] || {{ echo "unknown flag: --validate" >&2; exit 125; }}
    if grep -q '"reject-me"' "$3"; then
      echo "unable to configure the Docker daemon with file $3:" \\
        "the following directives don't match any configuration option: reject-me" >&2
      exit 1
    fi
    echo "configuration OK"
    exit 0 ;;
esac
exit 2
"""

ORIGINAL = b'{"icc": true,\n "x-vendor": {"keep": [1, 2]},\n "debug": false}\n'


class Lab:
    """Paths of one test: a daemon.json, a unit directory and a fake dockerd."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.etc = root / "etc" / "docker"
        self.etc.mkdir(parents=True)
        self.path = self.etc / "daemon.json"
        self.unit = root / "lib" / "systemd" / "system" / "docker.service"
        self.unit.parent.mkdir(parents=True)
        self.unit.write_text(DEBIAN_UNIT)
        self.dropins = root / "etc" / "systemd" / "system" / "docker.service.d"
        self.default = root / "etc" / "default" / "docker"
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "dockerd.log"
        (root / "remote-tmp").mkdir()
        self.monkeypatch = monkeypatch
        self.dockerd("old")
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}")

    def dockerd(self, flavour: str) -> None:
        fake = self.bin / "dockerd"
        fake.write_text(FAKE_DOCKERD.format(log=self.log, flavour=flavour))
        fake.chmod(0o755)

    def dockerd_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def args(self, **kwargs: t.Any) -> dict[str, t.Any]:
        args: dict[str, t.Any] = {
            "path": str(self.path),
            "dockerd_flags_sources": [str(self.unit), f"{self.dropins}/*.conf", str(self.default)],
            "_ansible_remote_tmp": str(self.root / "remote-tmp"),
            "_ansible_keep_remote_files": False,
        }
        args.update(kwargs)
        return args

    def snapshot(self) -> tuple[bytes, int, int, list[str]]:
        st = self.path.stat()
        return (self.path.read_bytes(), st.st_mtime_ns, stat.S_IMODE(st.st_mode), sorted(os.listdir(self.etc)))


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    # Warnings are collected in a process-wide registry; each run starts with none. Importing
    # controller code (other tests in the same process do) switches module warnings to the
    # controller's display; a module run in-process must collect them as on a target.
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    monkeypatch.setattr(ansible_module_utils_internal, "is_controller", False)
    return Lab(tmp_path, monkeypatch)


def warnings_of(result: dict[str, t.Any]) -> list[str]:
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def run(args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any], str]:
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        docker_daemon_config.main()
    out = capsys.readouterr().out
    return int(exc.value.code or 0), json.loads(out), out


SETTINGS = {"icc": False, "live-restore": True, "log-opts": {"max-size": "10m", "max-file": "3"}}
EXPECTED = (
    b"{\n"
    b'  "debug": false,\n'
    b'  "icc": false,\n'
    b'  "live-restore": true,\n'
    b'  "log-opts": {\n'
    b'    "max-file": "3",\n'
    b'    "max-size": "10m"\n'
    b"  },\n"
    b'  "x-vendor": {\n'
    b'    "keep": [\n'
    b"      1,\n"
    b"      2\n"
    b"    ]\n"
    b"  }\n"
    b"}\n"
)


def test_check_mode_writes_nothing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(ORIGINAL)
    lab.path.chmod(0o600)
    before = lab.snapshot()
    rc, result, _out = run(
        lab.args(settings=SETTINGS, mode="0644", _ansible_check_mode=True, _ansible_diff=True), capsys
    )
    assert rc == 0, result
    assert result["changed"] is True
    assert lab.snapshot() == before  # same bytes, mtime, mode, and no backup or temporary file
    assert result["changed_keys"] == ["icc", "live-restore", "log-opts"]
    assert result["item_status"] == {"icc": "changed", "live-restore": "changed", "log-opts": "changed"}
    assert result["diff"]["before"] == {"icc": True}
    assert result["diff"]["after"] == SETTINGS
    assert result["config"] == json.loads(EXPECTED)
    assert "backup_file" not in result
    assert result["validated_with"] == "schema"
    assert result["conflicts"] == []


def test_check_mode_validates_a_copy_outside_the_target_directory(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.dockerd("new")
    lab.path.write_bytes(ORIGINAL)
    before = lab.snapshot()
    rc, result, _out = run(lab.args(settings=SETTINGS, _ansible_check_mode=True), capsys)
    assert rc == 0, result
    assert result["validated_with"] == "dockerd --validate"
    validate = [c for c in lab.dockerd_calls() if c.startswith("--validate")]
    assert len(validate) == 1 and not validate[0].split()[-1].startswith(str(lab.etc))
    assert lab.snapshot() == before


def test_apply_then_converged(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(ORIGINAL)
    lab.path.chmod(0o600)
    rc, first, _out = run(lab.args(settings=SETTINGS, _ansible_diff=True), capsys)
    assert rc == 0, first
    assert first["changed"] is True
    assert lab.path.read_bytes() == EXPECTED
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o600  # an existing file keeps its mode
    backup = Path(first["backup_file"])
    assert backup.parent == lab.etc and backup.read_bytes() == ORIGINAL
    assert first["diff"]["after"] == SETTINGS

    after_first = lab.snapshot()
    rc, second, _out = run(lab.args(settings=SETTINGS, _ansible_diff=True), capsys)
    assert rc == 0, second
    assert second["changed"] is False
    assert second["changed_keys"] == []
    assert second["item_status"] == {"icc": "ok", "live-restore": "ok", "log-opts": "ok"}
    assert second["diff"] == {
        "before": SETTINGS,
        "after": SETTINGS,
        "before_header": str(lab.path),
        "after_header": str(lab.path),
    }
    assert "backup_file" not in second
    assert lab.snapshot() == after_first  # not even rewritten


def test_formatting_alone_is_not_a_change(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(b'{"icc":false,"debug":true}')
    before = lab.snapshot()
    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert (rc, result["changed"]) == (0, False)
    assert lab.snapshot() == before


def test_new_file(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(settings={"icc": False}, _ansible_check_mode=True), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert not lab.path.exists()

    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert lab.path.read_bytes() == b'{\n  "icc": false\n}\n'
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o644
    assert "backup_file" not in result
    assert sorted(os.listdir(lab.etc)) == ["daemon.json"]


def test_new_file_in_a_missing_directory(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    path = lab.root / "new" / "docker" / "daemon.json"
    rc, result, _out = run(lab.args(path=str(path), settings={"icc": False}), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert path.read_bytes() == b'{\n  "icc": false\n}\n'


def test_remove(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(b'{"cluster-store": "consul://x", "icc": false}')
    rc, result, _out = run(lab.args(remove=["cluster-store", "graph"], _ansible_diff=True), capsys)
    assert rc == 0, result
    assert result["item_status"] == {"cluster-store": "changed", "graph": "ok"}
    assert result["diff"]["before"] == {"cluster-store": "consul://x"}
    assert result["diff"]["after"] == {}
    assert json.loads(lab.path.read_bytes()) == {"icc": False}


@pytest.mark.parametrize(
    "content, message",
    [
        (
            b'{\n  "icc": false\n  "debug": true\n}\n',
            "daemon.json at {path} is not valid JSON (line 3, column 3); nothing was changed.",
        ),
        (b"[]", "daemon.json at {path} is not valid: the top level is an array, not an object; nothing was changed."),
    ],
)
def test_malformed_file_is_left_alone(
    lab: Lab, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    lab.path.write_bytes(content)
    before = lab.snapshot()
    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert rc == 1
    assert result["failed"] is True
    assert result["msg"] == message.format(path=lab.path)
    assert lab.snapshot() == before


def test_bad_settings_fail_before_reading_anything_else(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(ORIGINAL)
    before = lab.snapshot()
    rc, result, _out = run(lab.args(settings={"live_restore": True}), capsys)
    assert rc == 1
    assert result["msg"] == (
        "settings: unknown daemon.json key 'live_restore'; did you mean 'live-restore'?"
        " If your dockerd knows this key, list it in allow_unknown_keys."
    )
    assert lab.snapshot() == before


def test_allow_unknown_keys_must_be_bool_or_list(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(settings={"icc": False}, allow_unknown_keys="x"), capsys)
    assert rc == 1
    assert result["msg"] == "allow_unknown_keys: expected a bool or a list of key names, got str ('x')."


def test_hosts_conflicts_with_the_packaged_unit(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(ORIGINAL)
    before = lab.snapshot()
    rc, result, _out = run(lab.args(settings={"hosts": ["unix:///var/run/docker.sock"]}), capsys)
    assert rc == 1
    assert result["msg"].startswith(
        "dockerd refuses to start when a directive is both a flag and a daemon.json key (moby/moby#25471):"
        f" 'hosts' in {lab.path} is also given to dockerd as '-H fd://' (ExecStart in {lab.unit}, line 8); fix:"
    )
    assert [(c["key"], c["flag"], c["source"], c["line"]) for c in result["conflicts"]] == [
        ("hosts", "-H fd://", str(lab.unit), 8)
    ]
    assert lab.snapshot() == before

    # The fix the message proposes: a drop-in that resets ExecStart.
    lab.dropins.mkdir(parents=True)
    (lab.dropins / "override.conf").write_text(
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n"
    )
    rc, result, _out = run(lab.args(settings={"hosts": ["unix:///var/run/docker.sock"]}), capsys)
    assert (rc, result["changed"], result["conflicts"]) == (0, True, [])


def test_conflict_of_an_unmanaged_key_is_a_warning(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.default.parent.mkdir(parents=True)
    lab.default.write_text('DOCKER_OPTS="--debug"\n')
    lab.path.write_bytes(ORIGINAL)  # has "debug": false
    unit = DEBIAN_UNIT.replace("-/etc/default/docker", f"-{lab.default}")
    lab.unit.write_text(unit)
    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert [(c["key"], c["via"], c["source"]) for c in result["conflicts"]] == [
        ("debug", "DOCKER_OPTS", str(lab.default))
    ]
    assert any("'debug'" in w for w in warnings_of(result))


def test_check_conflicts_false(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(settings={"hosts": ["fd://"]}, check_conflicts=False), capsys)
    assert (rc, result["changed"], result["conflicts"]) == (0, True, [])


def test_dockerd_validate_accepts(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.dockerd("new")
    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert (rc, result["changed"], result["validated_with"]) == (0, True, "dockerd --validate")
    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert (rc, result["changed"], result["validated_with"]) == (0, False, "schema")  # nothing to validate


def test_dockerd_validate_rejects(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.dockerd("new")
    lab.path.write_bytes(ORIGINAL)
    before = lab.snapshot()
    rc, result, _out = run(lab.args(settings={"reject-me": True}, allow_unknown_keys=["reject-me"]), capsys)
    assert rc == 1
    assert result["msg"] == (
        f"dockerd --validate rejected the new content of {lab.path}: unable to configure the Docker daemon with"
        f" file {lab.path}: the following directives don't match any configuration option: reject-me;"
        " nothing was changed."
    )
    assert lab.snapshot() == before


def test_old_dockerd_falls_back_to_the_schema(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(settings={"icc": False}), capsys)
    assert (rc, result["validated_with"]) == (0, "schema")
    assert lab.dockerd_calls() == ["--help"]  # probed, never asked to --validate


def test_validate_false_does_not_run_dockerd(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.dockerd("new")
    rc, result, _out = run(lab.args(settings={"icc": False}, validate=False), capsys)
    assert (rc, result["validated_with"]) == (0, "schema")
    assert lab.dockerd_calls() == []


def test_file_attributes(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(b'{\n  "icc": false\n}\n')
    lab.path.chmod(0o666)
    rc, result, _out = run(lab.args(settings={"icc": False}, mode="0644", _ansible_check_mode=True), capsys)
    assert (rc, result["changed"], result["item_status"]) == (0, True, {"icc": "ok"})
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o666
    rc, result, _out = run(lab.args(settings={"icc": False}, mode="0644"), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o644
    rc, result, _out = run(lab.args(settings={"icc": False}, mode="0644"), capsys)
    assert (rc, result["changed"]) == (0, False)


def test_no_backup(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.path.write_bytes(ORIGINAL)
    rc, result, _out = run(lab.args(settings={"icc": False}, backup=False), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert "backup_file" not in result
    assert sorted(os.listdir(lab.etc)) == ["daemon.json"]


def test_proxy_password_never_reaches_the_output(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    settings = {"proxies": {"https-proxy": "http://bob:Sup3rSecretPw@proxy:3128"}}
    rc, result, out = run(lab.args(settings=settings, _ansible_diff=True), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert "Sup3rSecretPw" not in out
    assert result["config"]["proxies"]["https-proxy"] == "http://bob:********@proxy:3128"
    assert json.loads(lab.path.read_bytes())["proxies"]["https-proxy"] == "http://bob:Sup3rSecretPw@proxy:3128"


def test_deprecated_key_warns(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(settings={"graph": "/srv/docker"}), capsys)
    assert rc == 0
    assert "settings.graph: removed in Docker 23; use data-root." in warnings_of(result)


def test_requires_settings_or_remove(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(), capsys)
    assert rc == 1
    assert result["msg"] == "one of the following is required: settings, remove. Nothing was changed."
