# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process against a kubeadm manifest in a temporary directory.

Nothing of the module's logic is replaced: the tests point the module at other paths (the
manifest, the backup directory) and put a stand-in ``kube-apiserver`` first on PATH, a script
that prints the --help and --version of kube-apiserver v1.37. No pod runs here, so the edits are
made with ``wait: false``; the gate and the rollback are tested in test_static_pod_rollout.py,
and with a pod that never comes (a real, failing gate) at the end of this file.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import typing as t
from pathlib import Path

import pytest

from ansible_collections.bulwark.hardening.plugins.modules import static_pod
from ansible_collections.bulwark.hardening.tests.unit.plugins.kube_apiserver_fixtures import HELP, KUBE_APISERVER
from ansible_collections.bulwark.hardening.tests.unit.plugins.modules.conftest import ModuleRunner

Runner = t.Callable[[t.Dict[str, t.Any]], t.Tuple[int, t.Dict[str, t.Any]]]


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
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}")

    def args(self, **kwargs: t.Any) -> dict[str, t.Any]:
        args: dict[str, t.Any] = {
            "path": str(self.path),
            "backup_dir": str(self.backups),
            "wait": False,
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
    return Node(tmp_path, monkeypatch)


@pytest.fixture
def run(run_module: ModuleRunner) -> t.Callable[[dict[str, t.Any]], tuple[int, dict[str, t.Any]]]:
    return lambda args: run_module(static_pod, **args)


HARDEN = {
    "anonymous-auth": False,
    "profiling": False,
    "enable-admission-plugins": ["NodeRestriction", "PodSecurity"],
    "audit-log-path": "/var/log/kubernetes/audit/audit.log",
}


def test_apply_then_converged(node: Node, run: Runner) -> None:
    rc, first = run(node.args(set=HARDEN, remove=["enable-bootstrap-token-auth"], _ansible_diff=True))
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

    assert first["diff"] == [
        {"before": KUBE_APISERVER, "after": text, "before_header": str(node.path), "after_header": str(node.path)}
    ]

    after_first = node.snapshot()
    rc, second = run(node.args(set=HARDEN, remove=["enable-bootstrap-token-auth"], _ansible_diff=True))
    assert rc == 0, second
    assert second["changed"] is False
    assert (second["flags_added"], second["flags_changed"], second["flags_removed"], second["volumes_added"]) == (
        [],
        {},
        [],
        [],
    )
    assert "backup_file" not in second
    assert second["diff"][0]["before"] == second["diff"][0]["after"] == text
    assert second["args"] == first["args"]
    assert node.snapshot() == after_first  # not even rewritten
    assert len(os.listdir(node.backups)) == 1


def test_check_mode_writes_nothing(node: Node, run: Runner) -> None:
    before = node.snapshot()
    rc, result = run(node.args(set=HARDEN, _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0, result
    assert result["changed"] is True
    assert node.snapshot() == before  # same bytes, mtime and mode, no backup directory, no stray file
    assert "backup_file" not in result
    assert result["diff"][0]["before"] == KUBE_APISERVER
    assert "    - --anonymous-auth=false\n" in result["diff"][0]["after"]
    assert result["flags_added"] == ["anonymous-auth", "audit-log-path", "profiling"]
    assert result["version"] == "Kubernetes v1.37.2"


def test_unknown_flag_is_rejected_and_nothing_written(node: Node, run: Runner) -> None:
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False, "insecure-port": 0}))
    assert rc == 1
    assert result["msg"] == (
        "set: kube-apiserver (Kubernetes v1.37.2) does not know the flag 'insecure-port' (did you mean"
        " 'secure-port'?); nothing was changed. Flags that kube-apiserver no longer has belong in remove; for a"
        " deprecated flag that --help hides, set validate_flags to false."
    )
    assert node.snapshot() == before


def test_remove_is_not_validated(node: Node, run: Runner) -> None:
    rc, result = run(node.args(remove=["insecure-port", "enable-bootstrap-token-auth"]))
    assert (rc, result["changed"], result["flags_removed"], result["version"]) == (
        0,
        True,
        ["enable-bootstrap-token-auth"],
        None,
    )
    assert node.calls() == []  # nothing to check: the binary is not run


def test_validate_flags_false(node: Node, run: Runner) -> None:
    node.binary.unlink()
    rc, result = run(node.args(set={"brand-new-flag": "x"}, validate_flags=False))
    assert (rc, result["changed"], result["flags_added"], result["version"]) == (0, True, ["brand-new-flag"], None)


def test_binary_not_found(node: Node, run: Runner) -> None:
    node.binary.unlink()
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False}))
    assert rc == 1
    assert result["msg"] == (
        "validate_flags: cannot find kube-apiserver (the command of container 'kube-apiserver') on this host to read"
        " its --help; kubeadm runs the components from their images. Set binary to its path, or help_command to a"
        " command that prints its --help (one that runs the image, for example), or set validate_flags to false."
        " Nothing was changed."
    )
    assert node.snapshot() == before


def test_binary_option(node: Node, run: Runner) -> None:
    elsewhere = node.root / "opt" / "kube-apiserver-1.37"
    elsewhere.parent.mkdir()
    node.binary.rename(elsewhere)
    rc, result = run(node.args(set={"anonymous-auth": False}, binary=str(elsewhere)))
    assert (rc, result["changed"], result["version"]) == (0, True, "Kubernetes v1.37.2")


def test_help_command(node: Node, run: Runner) -> None:
    runner = node.bin / "runtime"
    runner.write_text('#!/bin/sh\nshift 2\nexec "$@"\n')  # "runtime run IMAGE kube-apiserver --help"
    runner.chmod(0o755)
    help_command = ["runtime", "run", "registry.k8s.io/kube-apiserver:v1.37.2", "kube-apiserver", "--help"]
    rc, result = run(node.args(set={"anonymous_auth": False}, help_command=help_command))
    assert rc == 1
    assert result["msg"].startswith(
        "set: kube-apiserver (Kubernetes v1.37.2) does not know the flag 'anonymous_auth' (did you mean"
        " 'anonymous-auth'?)"
    )
    assert node.calls() == ["--help", "--version"]


def test_help_command_without_flags(node: Node, run: Runner) -> None:
    rc, result = run(node.args(set={"anonymous-auth": False}, help_command=["kube-apiserver", "help"]))
    assert rc == 1
    assert result["msg"] == (
        f"validate_flags: '{node.binary} help' listed no flags (exit code 1: Error: unknown command); set help_command"
        " to a command that prints the component's --help, or set validate_flags to false. Nothing was changed."
    )


def test_invalid_yaml_is_left_alone(node: Node, run: Runner) -> None:
    node.path.write_text(
        KUBE_APISERVER.replace("    imagePullPolicy: IfNotPresent", "   imagePullPolicy: IfNotPresent")
    )
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False}))
    assert rc == 1
    assert result["msg"] == (
        f"{node.path} is not valid YAML (line 43, column 4: expected <block end>, but found '<block mapping start>');"
        " nothing was changed."
    )
    assert node.snapshot() == before
    assert node.calls() == []


def test_not_a_pod(node: Node, run: Runner) -> None:
    node.path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n")
    before = node.snapshot()
    rc, result = run(node.args(set={"anonymous-auth": False}))
    assert rc == 1
    assert (
        result["msg"]
        == f"{node.path} is not a static pod manifest: kind is 'Deployment', not 'Pod'; nothing was changed."
    )
    assert node.snapshot() == before


def test_several_containers_need_container(node: Node, run: Runner) -> None:
    node.path.write_text(
        KUBE_APISERVER.replace(
            "  hostNetwork: true\n", "  - name: audit-shipper\n    image: busybox\n  hostNetwork: true\n"
        )
    )
    rc, result = run(node.args(set={"anonymous-auth": False}))
    assert rc == 1
    assert result["msg"] == (
        f"container: the pod in {node.path} has several containers (kube-apiserver, audit-shipper); name the one to edit."
    )
    rc, result = run(node.args(set={"anonymous-auth": False}, container="kube-apiserver"))
    assert (rc, result["changed"]) == (0, True)


@pytest.mark.parametrize("inside", ["", "backups"])
def test_backup_dir_inside_the_manifests_dir_is_rejected(node: Node, run: Runner, inside: str) -> None:
    before = node.snapshot()
    backup_dir = node.manifests / inside if inside else node.manifests
    rc, result = run(node.args(set={"anonymous-auth": False}, backup_dir=str(backup_dir)))
    assert rc == 1
    assert "kubelet would start a backup copy there as a second pod (kubernetes/kubernetes#55596)" in result["msg"]
    assert result["msg"].startswith(f"backup_dir: {backup_dir} is ")
    assert node.snapshot() == before
    assert node.calls() == []  # refused before anything else


def test_backup_dir_through_a_symlink_is_rejected(node: Node, run: Runner) -> None:
    link = node.root / "backups-link"
    link.symlink_to(node.manifests)
    rc, result = run(node.args(set={"anonymous-auth": False}, backup_dir=str(link)))
    assert rc == 1
    assert result["msg"].startswith(f"backup_dir: {node.manifests} is the manifests directory")


def test_no_backup(node: Node, run: Runner) -> None:
    rc, result = run(node.args(set={"anonymous-auth": False}, backup=False, backup_dir=str(node.manifests)))
    assert (rc, result["changed"]) == (0, True)
    assert "backup_file" not in result
    assert not node.backups.exists()
    assert sorted(os.listdir(node.manifests)) == ["kube-apiserver.yaml"]


def test_missing_manifest(node: Node, run: Runner) -> None:
    node.path.unlink()
    rc, result = run(node.args(set={"anonymous-auth": False}))
    assert rc == 1
    assert result["msg"] == f"{node.path} does not exist; static_pod changes existing static pod manifests."


def test_volumes_and_list_items(node: Node, run: Runner) -> None:
    node.path.chmod(0o640)
    args = node.args(
        set={
            "encryption-provider-config": "/etc/kubernetes/enc/config.yaml",
            "enable-admission-plugins": "PodSecurity",
        },
        remove_list_items={"enable-admission-plugins": ["NodeRestriction"]},
        volumes=[{"name": "enc", "host_path": "/etc/kubernetes/enc"}],
        validate_flags=False,
        check_paths=False,  # /etc/kubernetes/enc is the node's, not this test's
    )
    rc, result = run(args)
    assert rc == 0, result
    assert result["volumes_added"] == ["enc"]  # the explicit volume covers the flag's file
    assert result["flags_changed"] == {
        "enable-admission-plugins": {"before": "NodeRestriction", "after": "PodSecurity"}
    }
    assert stat.S_IMODE(node.path.stat().st_mode) == 0o640  # the mode of the file it replaced
    text = node.path.read_text()
    assert "  - hostPath:\n      path: /etc/kubernetes/enc\n      type: DirectoryOrCreate\n    name: enc\n" in text
    assert "    - mountPath: /etc/kubernetes/enc\n      name: enc\n      readOnly: true\n" in text
    rc, result = run(args)
    assert (rc, result["changed"]) == (0, False)


def test_reads_flags_without_changes(node: Node, run: Runner) -> None:
    before = node.snapshot()
    rc, result = run(node.args())
    assert (rc, result["changed"]) == (0, False)
    assert result["args"][0] == "--advertise-address=172.18.0.2" and len(result["args"]) == 27
    assert node.snapshot() == before


# --------------------------------------------------------------------------- files, paths, the gate


def config_files(node: Node, policy: str = "rules: []\n") -> list[dict[str, t.Any]]:
    return [
        {"path": str(node.root / "bulwark" / "audit-policy.yaml"), "content": policy},
        {"path": str(node.root / "bulwark" / "token"), "secret_content": "s3cr3t-token-value", "mode": "0400"},
    ]


def test_files_are_written_and_their_digest_restarts_the_pod(node: Node, run: Runner) -> None:
    args = node.args(set={"profiling": False}, files=config_files(node), _ansible_diff=True)
    rc, first = run(args)
    assert rc == 0, first
    policy, token = node.root / "bulwark" / "audit-policy.yaml", node.root / "bulwark" / "token"
    assert first["files_changed"] == [str(policy), str(token)]
    assert (policy.read_text(), token.read_text()) == ("rules: []\n", "s3cr3t-token-value")
    assert (stat.S_IMODE(policy.stat().st_mode), stat.S_IMODE(token.stat().st_mode)) == (0o600, 0o400)
    assert stat.S_IMODE(policy.parent.stat().st_mode) == 0o700
    annotation = re.search(r"bulwark.io/config-digest: '?([0-9a-f]{16})'?\n", node.path.read_text())
    assert annotation, node.path.read_text()
    assert "s3cr3t-token-value" not in json.dumps(first)  # not in the diff, not in the invocation
    assert [d["after_header"] for d in first["diff"]] == [f"{policy} (mode 0600)", f"{token} (mode 0400)", str(node.path)]
    assert first["diff"][1]["after"] == "(secret content, not shown)\n"

    rc, second = run(args)
    assert (rc, second["changed"], second["files_changed"]) == (0, False, [])

    # A new policy alone changes the manifest too: its digest is in the pod's annotation.
    rc, third = run(node.args(set={"profiling": False}, files=config_files(node, "rules: [{level: None}]\n")))
    assert (rc, third["changed"], third["files_changed"]) == (0, True, [str(policy)])
    assert annotation.group(1) not in node.path.read_text()
    assert third["file_backups"][str(policy)].startswith(str(node.backups))
    assert Path(third["file_backups"][str(policy)]).read_text() == "rules: []\n"


def test_watch_files_join_the_digest_and_may_be_missing_in_check_mode(node: Node, run: Runner) -> None:
    encryption = node.root / "bulwark" / "encryption.yaml"
    args = node.args(
        set={"encryption-provider-config": str(encryption)}, watch_files=[str(encryption)], validate_flags=False
    )
    before = node.snapshot()
    rc, audit = run({**args, "_ansible_check_mode": True})
    assert (rc, audit.get("changed")) == (0, True), audit
    assert node.snapshot() == before
    rc, result = run(args)
    assert rc == 1
    assert result["msg"] == (
        f"set.encryption-provider-config: {encryption} does not exist on this node, and the pod would fail without it."
        " Make it first, or set check_paths to false. Nothing was changed."
    )
    encryption.parent.mkdir()
    encryption.write_text("key one")
    rc, result = run(args)
    assert (rc, result["changed"]) == (0, True)
    digest = node.path.read_text()
    encryption.write_text("key two")
    rc, result = run(args)
    assert (rc, result["changed"]) == (0, True)  # the pod must read the new key
    assert node.path.read_text() != digest
    assert "key two" not in json.dumps(result)


def test_required_flags_are_checked_before_anything_changes(node: Node, run: Runner) -> None:
    before = node.snapshot()
    rc, result = run(
        node.args(set={"profiling": False}, required_flags=["tls-cert-file", "etcd-cafile", "kubelet-certificate-authority"])
    )
    assert rc == 1
    assert result["msg"] == (
        f"required_flags: container 'kube-apiserver' in {node.path} has no --kubelet-certificate-authority; this change"
        " does not make what they name (kubeadm does). Nothing was changed."
    )
    assert node.snapshot() == before


def test_a_pod_that_never_comes_is_rolled_back(node: Node, run: Runner) -> None:
    policy = node.root / "bulwark" / "audit-policy.yaml"
    policy.parent.mkdir()
    policy.write_text("old policy\n")
    before = node.snapshot()
    rc, result = run(
        node.args(
            set={"profiling": False},
            files=config_files(node)[:1],
            wait=True,
            process="bulwark-test-no-such-process",  # no process of this name runs, here or in a lab container
            timeout=1,
            stable_for=0,
        )
    )
    assert rc == 1
    assert result["msg"] == (
        "bulwark-test-no-such-process was not healthy within 1 s: no bulwark-test-no-such-process process runs. The"
        " previous manifest and files are back, but bulwark-test-no-such-process is NOT healthy with them either: no"
        " bulwark-test-no-such-process process runs."
    )
    assert result["rolled_back"] is False
    assert result["log_tail"] == ["(no log file matches /var/log/pods/kube-system_kube-apiserver-*/kube-apiserver/*.log)"]
    assert node.snapshot()[0] == before[0]  # the manifest's bytes
    assert sorted(os.listdir(node.manifests)) == ["kube-apiserver.yaml"]
    assert policy.read_text() == "old policy\n"


def test_encryption_config_is_made_on_the_node_and_never_shown(node: Node, run: Runner) -> None:
    path = node.root / "bulwark" / "encryption.yaml"
    encryption = {"path": str(path), "key_name": "bulwark-1"}
    args = node.args(
        set={"encryption-provider-config": str(path)}, encryption_config=encryption, validate_flags=False, _ansible_diff=True
    )
    rc, first = run(args)
    assert rc == 0, first
    assert first["encryption"] == {
        "provider": "secretbox", "key_name": "bulwark-1", "providers": ["secretbox", "identity"], "created_key": True,
    }  # fmt: skip
    assert first["item_status"]["encryption-config"] == "changed"
    secret = re.search(r"secret: (\S+)", path.read_text()).group(1)
    assert len(base64.b64decode(secret)) == 32
    assert secret not in json.dumps(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "bulwark.io/config-digest" in node.path.read_text()

    rc, second = run(args)
    assert (rc, second["changed"], second["item_status"]["encryption-config"]) == (0, False, "ok")
    assert second["encryption"]["created_key"] is False

    # A failed rollout keeps the key: the new pod may already have encrypted with it.
    path.unlink()
    manifest = node.path.read_bytes()
    rc, failed = run({**args, "set": {"encryption-provider-config": str(path), "profiling": False}, "wait": True,
                      "process": "bulwark-test-no-such-process", "timeout": 1, "stable_for": 0})  # fmt: skip
    assert rc == 1
    assert node.path.read_bytes() == manifest
    assert path.exists() and "secretbox" in path.read_text()
    assert re.search(r"secret: (\S+)", path.read_text()).group(1) not in json.dumps(failed)


def test_encryption_config_refuses_a_bad_shared_key(node: Node, run: Runner) -> None:
    before = node.snapshot()
    path = node.root / "bulwark" / "encryption.yaml"
    rc, result = run(
        node.args(encryption_config={"path": str(path), "secret": "dG9vIHNob3J0"}, validate_flags=False)
    )
    assert rc == 1
    assert "encryption_config.secret" in result["msg"] and "dG9vIHNob3J0" not in json.dumps(result)
    assert node.snapshot() == before and not path.exists()
