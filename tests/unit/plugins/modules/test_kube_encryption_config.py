# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process against files in a temporary directory. Nothing of the module's
logic is replaced; the tests point it at other paths, and own the file by the user they run as."""

from __future__ import annotations

import base64
import grp
import json
import os
import pwd
import stat
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible.module_utils import _internal as ansible_module_utils_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bulwark.hardening.plugins.modules import kube_encryption_config

OLD = base64.b64encode(b"o" * 32).decode()
ONLY_IDENTITY = b"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
# written by hand
resources:
  - resources: [secrets]
    providers:
      - identity: {}
"""
CONVERGED = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key1
              secret: {OLD}
      - identity: {{}}
""".encode()


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "etc" / "kubernetes" / "bulwark"
        self.path = self.dir / "encryption-config.yaml"
        (root / "remote-tmp").mkdir()

    def args(self, **kwargs: t.Any) -> dict[str, t.Any]:
        args: dict[str, t.Any] = {
            "path": str(self.path),
            "owner": pwd.getpwuid(os.geteuid()).pw_name,
            "group": grp.getgrgid(os.getegid()).gr_name,
            "_ansible_remote_tmp": str(self.root / "remote-tmp"),
            "_ansible_keep_remote_files": False,
        }
        args.update(kwargs)
        return args

    def write(self, content: bytes, mode: int = 0o600) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(content)
        self.path.chmod(mode)

    def snapshot(self) -> tuple[bytes, int, int, list[str]]:
        st = self.path.stat()
        return (self.path.read_bytes(), st.st_mtime_ns, stat.S_IMODE(st.st_mode), sorted(os.listdir(self.dir)))

    def providers(self) -> list[dict[str, t.Any]]:
        return t.cast("list[dict[str, t.Any]]", yaml.safe_load(self.path.read_bytes())["resources"][0]["providers"])


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    monkeypatch.setattr(ansible_module_utils_internal, "is_controller", False)
    return Lab(tmp_path)


def run(args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any], str]:
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        kube_encryption_config.main()
    out = capsys.readouterr().out
    return int(exc.value.code or 0), json.loads(out), out


def test_defaults_are_root_only() -> None:
    spec = kube_encryption_config.ARGUMENT_SPEC
    assert (spec["mode"]["default"], spec["owner"]["default"], spec["group"]["default"]) == ("0600", "root", "root")
    assert (spec["provider"]["default"], spec["resources"]["default"]) == ("secretbox", ["secrets"])


def test_check_mode_on_a_new_host_writes_nothing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result, _out = run(lab.args(_ansible_check_mode=True, _ansible_diff=True), capsys)
    assert rc == 0, result
    assert (result["changed"], result["created_key"], result["provider"]) == (True, True, "secretbox")
    assert result["providers"] == ["secretbox", "identity"]
    assert result["key_name"].startswith("bulwark-") and len(result["key_name"]) == len("bulwark-20250131120000")
    assert result["diff"]["before"] == ""
    assert "secret: <redacted>" in result["diff"]["after"]
    assert not lab.dir.exists()


def test_create_then_converged(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    rc, first, out = run(lab.args(key_name="key-a", _ansible_diff=True), capsys)
    assert rc == 0, first
    assert (first["changed"], first["created_key"], first["key_name"]) == (True, True, "key-a")
    assert "backup_file" not in first
    assert stat.S_IMODE(lab.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o600
    assert os.listdir(lab.dir) == ["encryption-config.yaml"]  # no temporary file left
    providers = lab.providers()
    assert [list(p) for p in providers] == [["secretbox"], ["identity"]]
    secret = providers[0]["secretbox"]["keys"][0]["secret"]
    assert len(base64.b64decode(secret, validate=True)) == 32
    assert secret not in out  # the key never leaves the host
    assert lab.path.read_text().startswith("# Managed by bulwark.hardening.kube_encryption_config.")

    before = lab.snapshot()
    rc, second, out = run(lab.args(key_name="key-b", _ansible_diff=True), capsys)
    assert rc == 0, second
    assert (second["changed"], second["created_key"], second["key_name"]) == (False, False, "key-a")
    assert second["diff"]["before"] == second["diff"]["after"]
    assert secret not in out
    assert lab.snapshot() == before  # not even rewritten


def test_encrypt_a_plain_text_cluster(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write(ONLY_IDENTITY)
    rc, result, out = run(lab.args(_ansible_diff=True), capsys)
    assert rc == 0, result
    assert (result["changed"], result["created_key"], result["providers"]) == (True, True, ["secretbox", "identity"])
    backup = Path(result["backup_file"])
    assert backup.parent == lab.dir and backup.read_bytes() == ONLY_IDENTITY
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    secret = lab.providers()[0]["secretbox"]["keys"][0]["secret"]
    assert secret not in out
    assert result["diff"]["before"].endswith("  providers:\n  - identity: {}\n")


def test_new_provider_keeps_the_old_keys(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write(CONVERGED)
    rc, result, out = run(lab.args(provider="aesgcm", key_name="gcm1", backup=False, _ansible_diff=True), capsys)
    assert rc == 0, result
    assert (result["changed"], result["created_key"], result["key_name"]) == (True, True, "gcm1")
    assert result["providers"] == ["aesgcm", "secretbox", "identity"]
    assert "backup_file" not in result
    providers = lab.providers()
    assert providers[1] == {"secretbox": {"keys": [{"name": "key1", "secret": OLD}]}}
    assert OLD not in out and providers[0]["aesgcm"]["keys"][0]["secret"] not in out
    assert os.listdir(lab.dir) == ["encryption-config.yaml"]


def test_check_mode_on_an_existing_file_writes_nothing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write(ONLY_IDENTITY)
    before = lab.snapshot()
    rc, result, _out = run(lab.args(_ansible_check_mode=True, _ansible_diff=True), capsys)
    assert (rc, result["changed"], result["created_key"]) == (0, True, True)
    assert "backup_file" not in result
    assert lab.snapshot() == before  # same bytes, mtime, mode, and no backup or temporary file


def test_mode_is_tightened_without_touching_the_keys(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write(CONVERGED, mode=0o644)
    rc, result, _out = run(lab.args(_ansible_check_mode=True), capsys)
    assert (rc, result["changed"], result["created_key"]) == (0, True, False)
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o644
    rc, result, _out = run(lab.args(), capsys)
    assert (rc, result["changed"], result["created_key"]) == (0, True, False)
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o600
    assert lab.path.read_bytes() == CONVERGED
    assert "backup_file" not in result


def test_invalid_yaml_is_left_alone(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write(b"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - a\n  b: c\n")
    before = lab.snapshot()
    rc, result, _out = run(lab.args(), capsys)
    assert rc == 1
    assert result["msg"] == (
        f"{lab.path} is not valid YAML (line 5, column 3: expected <block end>, but found '?');" " nothing was changed."
    )
    assert lab.snapshot() == before


def test_a_bad_key_is_named_but_not_shown(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    short = base64.b64encode(b"s" * 16).decode()
    lab.write(CONVERGED.replace(OLD.encode(), short.encode()))
    before = lab.snapshot()
    rc, result, out = run(lab.args(_ansible_diff=True), capsys)
    assert rc == 1
    assert result["msg"] == (
        f"{lab.path}: resources[0].providers[0].secretbox.keys[0] (key 'key1'): the secret is 16 bytes;"
        " secretbox needs 32 bytes (base64 of os.urandom output); nothing was changed."
    )
    assert short not in out
    assert lab.snapshot() == before


def test_resources_split_over_groups_fail(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write(CONVERGED)
    rc, result, out = run(lab.args(resources=["secrets", "configmaps"]), capsys)
    assert rc == 1
    assert result["msg"].startswith("resources: the resources are encrypted by different groups of the file")
    assert OLD not in out


def test_a_given_secret_is_used_for_the_new_key_and_never_shown(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    shared = base64.b64encode(bytes(range(32))).decode()
    rc, result, out = run(lab.args(secret=shared, key_name="shared", _ansible_diff=True), capsys)
    assert rc == 0, result
    assert result["created_key"] is True
    assert lab.providers()[0]["secretbox"]["keys"] == [{"name": "shared", "secret": shared}]
    assert shared not in out
    # Another node given the same secret writes the same key: every API server reads every secret.
    (lab.root / "other").mkdir()
    other = Lab(lab.root / "other")
    rc, _result, _out = run(other.args(secret=shared, key_name="shared"), capsys)
    assert rc == 0
    assert other.providers() == lab.providers()


def test_a_bad_given_secret_fails_before_anything_is_written(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    short = base64.b64encode(b"k" * 16).decode()
    rc, result, out = run(lab.args(secret=short), capsys)
    assert rc == 1
    assert result["msg"] == (
        "secret (key 'secret'): the secret is 16 bytes; secretbox needs 32 bytes (base64 of os.urandom output)"
    )
    assert short not in out
    assert not lab.dir.exists()
