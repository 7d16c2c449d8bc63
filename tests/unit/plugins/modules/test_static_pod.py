# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process against a kubeadm manifest in a temporary directory.

Nothing of the module's logic is replaced: the tests point the module at other paths (the
manifest, the backup directory) and put a stand-in ``kube-apiserver`` first on PATH, a script
that prints the --help and --version of kube-apiserver v1.37.
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

from ansible_collections.bulwark.hardening.plugins.modules import static_pod_args
from ansible_collections.bulwark.hardening.tests.unit.plugins.kube_apiserver_fixtures import HELP, KUBE_APISERVER


FAKE_KUBE_APISERVER = """\
#!/bin/sh
echo "$@" >> "{log}"
case "$1" in
  --help) cat "{help}"; exit 0 ;;
  --version) echo "Kubernetes v1.37.2"; exit 0 ;;
esac
echo "Error: unknown command" >&2
exit 1
"""


class Node:
    """A control-plane node in a directory: the manifest, a backup directory and a fake kube-apiserver."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.manifests = root / "etc" / "kubernetes" / "manifests"
        self.manifests.mkdir(parents=True)
        self.path = self.manifests / "kube-apiserver.yaml"
        self.path.write_text(KUBE_APISERVER)
        self.path.chmod(0o600)
        self.backups = root / "var" / "backups" / "bulwark" / "static-pods"
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "kube-apiserver.log"
        help_file = root / "help.txt"
        help_file.write_text(HELP)
        self.binary = self.bin / "kube-apiserver"
        self.binary.write_text(FAKE_KUBE_APISERVER.format(log=self.log, help=help_file))
        self.binary.chmod(0o755)
        (root / "remote-tmp").mkdir()
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}")

    def args(self, **kwargs: t.Any) -> dict[str, t.Any]:
        args: dict[str, t.Any] = {
            "path": str(self.path),
            "backup_dir": str(self.backups),
            "_ansible_remote_tmp": str(self.root / "remote-tmp"),
            "_ansible_keep_remote_files": False,
        }
        args.update(kwargs)
        return args

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def snapshot(self) -> tuple[bytes, int, int, list[str], bool]:
        st = self.path.stat()
        return (
            self.path.read_bytes(),
            st.st_mtime_ns,
            stat.S_IMODE(st.st_mode),
            sorted(os.listdir(self.manifests)),
            self.backups.exists(),
        )


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Node:
    # Warnings are collected in a process-wide registry; each run starts with none, collected as on a target.
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    monkeypatch.setattr(ansible_module_utils_internal, "is_controller", False)
    return Node(tmp_path, monkeypatch)


def run(args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any]]:
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        static_pod_args.main()
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


HARDEN = {
    "anonymous-auth": False,
    "profiling": False,
    "enable-admission-plugins": ["NodeRestriction", "PodSecurity"],
    "audit-log-path": "/var/log/kubernetes/audit/audit.log",
}


def test_apply_then_converged(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    rc, first = run(node.args(set=HARDEN, remove=["enable-bootstrap-token-auth"], _ansible_diff=True), capsys)
    assert rc == 0, first
    assert first["changed"] is True
    assert first["flags_added"] == ["anonymous-auth", "audit-log-path", "profiling"]
    assert first["flags_changed"] == {
        "enable-admission-plugins": {"before": "NodeRestriction", "after": "NodeRestriction,PodSecurity"}
    }
    assert first["flags_removed"] == ["enable-bootstrap-token-auth"]
    assert first["volumes_added"] == ["bulwark-var-log-kubernetes-audit"]
    assert first["version"] == "Kubernetes v1.37.2"
    assert node.calls() == ["--help", "--version"]  # kube-apiserver of the manifest's command, found on PATH
    assert first["args"][:4] == [
        "--advertise-address=172.18.0.2",
        "--allow-privileged=true",
        "--anonymous-auth=false",
        "--audit-log-path=/var/log/kubernetes/audit/audit.log",
    ]

    text = node.path.read_text()
    assert "    - --anonymous-auth=false\n    - --audit-log-path=/var/log/kubernetes/audit/audit.log\n" in text
    assert "    - --enable-admission-plugins=NodeRestriction,PodSecurity\n" in text
    assert "enable-bootstrap-token-auth" not in text
    assert "    - mountPath: /var/log/kubernetes/audit\n      name: bulwark-var-log-kubernetes-audit\n" in text
    assert "  priorityClassName: system-node-critical\n" in text
    assert stat.S_IMODE(node.path.stat().st_mode) == 0o600  # kubeadm's mode kept
    assert sorted(os.listdir(node.manifests)) == ["kube-apiserver.yaml"]  # no backup or temporary file there

    backup = Path(first["backup_file"])
    assert backup.parent == node.backups
    assert backup.name.startswith("kube-apiserver.yaml.")
    assert backup.read_text() == KUBE_APISERVER
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    assert first["diff"] == {
        "before": KUBE_APISERVER,
        "after": text,
        "before_header": str(node.path),
        "after_header": str(node.path),
    }

    after_first = node.snapshot()
    rc, second = run(node.args(set=HARDEN, remove=["enable-bootstrap-token-auth"], _ansible_diff=True), capsys)
    assert rc == 0, second
    assert second["changed"] is False
    assert (second["flags_added"], second["flags_changed"], second["flags_removed"], second["volumes_added"]) == (
        [],
        {},
        [],
        [],
    )
    assert "backup_file" not in second
    assert second["diff"]["before"] == second["diff"]["after"] == text
    assert second["args"] == first["args"]
    assert node.snapshot() == after_first  # not even rewritten
    assert len(os.listdir(node.backups)) == 1


def test_check_mode_writes_nothing(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    before = node.snapshot()
    rc, result = run(node.args(set=HARDEN, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert rc == 0, result
    assert result["changed"] is True
    assert node.snapshot() == before  # same bytes, mtime and mode, no backup directory, no stray file
    assert "backup_file" not in result
    assert result["diff"]["before"] == KUBE_APISERVER
    assert "    - --anonymous-auth=false\n" in result["diff"]["after"]
    assert result["flags_added"] == ["anonymous-auth", "audit-log-path", "profiling"]
    assert result["version"] == "Kubernetes v1.37.2"


def test_unknown_flag_is_rejected_and_nothing_written(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False, "insecure-port": 0}), capsys)
    assert rc == 1
    assert result["msg"] == (
        "set: kube-apiserver (Kubernetes v1.37.2) does not know the flag 'insecure-port' (did you mean"
        " 'secure-port'?); nothing was changed. Flags that kube-apiserver no longer has belong in remove; for a"
        " deprecated flag that --help hides, set validate_flags to false."
    )
    assert node.snapshot() == before


def test_remove_is_not_validated(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run(node.args(remove=["insecure-port", "enable-bootstrap-token-auth"]), capsys)
    assert (rc, result["changed"], result["flags_removed"], result["version"]) == (
        0,
        True,
        ["enable-bootstrap-token-auth"],
        None,
    )
    assert node.calls() == []  # nothing to check: the binary is not run


def test_validate_flags_false(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.binary.unlink()
    rc, result = run(node.args(set={"brand-new-flag": "x"}, validate_flags=False), capsys)
    assert (rc, result["changed"], result["flags_added"], result["version"]) == (0, True, ["brand-new-flag"], None)


def test_binary_not_found(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.binary.unlink()
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False}), capsys)
    assert rc == 1
    assert result["msg"] == (
        "validate_flags: cannot find kube-apiserver (the command of container 'kube-apiserver') on this host to read"
        " its --help; kubeadm runs the components from their images. Set binary to its path, or help_command to a"
        " command that prints its --help (one that runs the image, for example), or set validate_flags to false."
        " Nothing was changed."
    )
    assert node.snapshot() == before


def test_binary_option(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = node.root / "opt" / "kube-apiserver-1.37"
    elsewhere.parent.mkdir()
    node.binary.rename(elsewhere)
    rc, result = run(node.args(set={"anonymous-auth": False}, binary=str(elsewhere)), capsys)
    assert (rc, result["changed"], result["version"]) == (0, True, "Kubernetes v1.37.2")


def test_help_command(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    runner = node.bin / "runtime"
    runner.write_text('#!/bin/sh\nshift 2\nexec "$@"\n')  # "runtime run IMAGE kube-apiserver --help"
    runner.chmod(0o755)
    help_command = ["runtime", "run", "registry.k8s.io/kube-apiserver:v1.37.2", "kube-apiserver", "--help"]
    rc, result = run(node.args(set={"anonymous_auth": False}, help_command=help_command), capsys)
    assert rc == 1
    assert result["msg"].startswith(
        "set: kube-apiserver (Kubernetes v1.37.2) does not know the flag 'anonymous_auth' (did you mean"
        " 'anonymous-auth'?)"
    )
    assert node.calls() == ["--help", "--version"]


def test_help_command_without_flags(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run(node.args(set={"anonymous-auth": False}, help_command=["kube-apiserver", "help"]), capsys)
    assert rc == 1
    assert result["msg"] == (
        f"validate_flags: '{node.binary} help' listed no flags (exit code 1: Error: unknown command); set help_command"
        " to a command that prints the component's --help, or set validate_flags to false. Nothing was changed."
    )


def test_invalid_yaml_is_left_alone(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.path.write_text(
        KUBE_APISERVER.replace("    imagePullPolicy: IfNotPresent", "   imagePullPolicy: IfNotPresent")
    )
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False}), capsys)
    assert rc == 1
    assert result["msg"] == (
        f"{node.path} is not valid YAML (line 43, column 4: expected <block end>, but found '<block mapping start>');"
        " nothing was changed."
    )
    assert node.snapshot() == before
    assert node.calls() == []


def test_not_a_pod(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n")
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False}), capsys)
    assert rc == 1
    assert (
        result["msg"]
        == f"{node.path} is not a static pod manifest: kind is 'Deployment', not 'Pod'; nothing was changed."
    )
    assert node.snapshot() == before


def test_several_containers_need_container(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.path.write_text(
        KUBE_APISERVER.replace(
            "  hostNetwork: true\n", "  - name: audit-shipper\n    image: busybox\n  hostNetwork: true\n"
        )
    )
    rc, result = run(node.args(set={"anonymous-auth": False}), capsys)
    assert rc == 1
    assert result["msg"] == (
        f"container: the pod in {node.path} has several containers (kube-apiserver, audit-shipper); name the one to edit."
    )
    rc, result = run(node.args(set={"anonymous-auth": False}, container="kube-apiserver"), capsys)
    assert (rc, result["changed"]) == (0, True)


@pytest.mark.parametrize("inside", ["", "backups"])
def test_backup_dir_inside_the_manifests_dir_is_rejected(
    node: Node, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    before = node.snapshot()
    backup_dir = node.manifests / inside if inside else node.manifests
    rc, result = run(node.args(set={"anonymous-auth": False}, backup_dir=str(backup_dir)), capsys)
    assert rc == 1
    assert "kubelet would start a backup copy there as a second pod (kubernetes/kubernetes#55596)" in result["msg"]
    assert result["msg"].startswith(f"backup_dir: {backup_dir} is ")
    assert node.snapshot() == before
    assert node.calls() == []  # refused before anything else


def test_backup_dir_through_a_symlink_is_rejected(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    link = node.root / "backups-link"
    link.symlink_to(node.manifests)
    rc, result = run(node.args(set={"anonymous-auth": False}, backup_dir=str(link)), capsys)
    assert rc == 1
    assert result["msg"].startswith(f"backup_dir: {node.manifests} is the manifests directory")


def test_no_backup(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run(node.args(set={"anonymous-auth": False}, backup=False, backup_dir=str(node.manifests)), capsys)
    assert (rc, result["changed"]) == (0, True)
    assert "backup_file" not in result
    assert not node.backups.exists()
    assert sorted(os.listdir(node.manifests)) == ["kube-apiserver.yaml"]


def test_missing_manifest(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.path.unlink()
    rc, result = run(node.args(set={"anonymous-auth": False}), capsys)
    assert rc == 1
    assert result["msg"] == f"{node.path} does not exist; static_pod_args edits existing static pod manifests."


def test_volumes_and_list_items(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.path.chmod(0o640)
    args = node.args(
        set={
            "encryption-provider-config": "/etc/kubernetes/enc/config.yaml",
            "enable-admission-plugins": "PodSecurity",
        },
        remove_list_items={"enable-admission-plugins": ["NodeRestriction"]},
        volumes=[{"name": "enc", "host_path": "/etc/kubernetes/enc"}],
        validate_flags=False,
    )
    rc, result = run(args, capsys)
    assert rc == 0, result
    assert result["volumes_added"] == ["enc"]  # the explicit volume covers the flag's file
    assert result["flags_changed"] == {
        "enable-admission-plugins": {"before": "NodeRestriction", "after": "PodSecurity"}
    }
    assert stat.S_IMODE(node.path.stat().st_mode) == 0o640  # the mode of the file it replaced
    text = node.path.read_text()
    assert "  - hostPath:\n      path: /etc/kubernetes/enc\n      type: DirectoryOrCreate\n    name: enc\n" in text
    assert "    - mountPath: /etc/kubernetes/enc\n      name: enc\n      readOnly: true\n" in text
    rc, result = run(args, capsys)
    assert (rc, result["changed"]) == (0, False)


def test_reads_flags_without_changes(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    before = node.snapshot()
    rc, result = run(node.args(), capsys)
    assert (rc, result["changed"]) == (0, False)
    assert result["args"][0] == "--advertise-address=172.18.0.2" and len(result["args"]) == 27
    assert node.snapshot() == before
