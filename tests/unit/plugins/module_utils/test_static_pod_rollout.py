# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rollout sequence and every way back: real files in a scratch directory, written and put back
by the node's own Host; only the gate's answers are scripted, since no pod runs here."""

from __future__ import annotations

import os
import stat
import typing as t
from pathlib import Path

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils._io import FileState, read_state
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_io import NodeHost
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_rollout import (
    SECRET_MARKER,
    FileSpec,
    FileSpecError,
    GateRequest,
    GateResult,
    RolloutFailed,
    RolloutPlan,
    build_files,
    config_digest,
    file_diffs,
    log_words,
    parse_mode,
    plan_files,
    roll_out,
)

OLD_MANIFEST = b"apiVersion: v1\nkind: Pod\n# old\n"
NEW_MANIFEST = b"apiVersion: v1\nkind: Pod\n# new\n"
HEALTHY = GateResult(True, 1.5, 4242)


def no_owner(owner: str | None, group: str | None) -> tuple[int | None, int | None]:
    if owner == "nobody-here":
        raise KeyError("getpwnam(): name not found: 'nobody-here'")
    return None, None


class ScriptedHost(NodeHost):
    """The node's Host on a scratch directory, with the gate's answers given in order and writes
    that fail on the paths in ``broken``."""

    def __init__(self, root: Path, answers: t.Sequence[GateResult] = (), broken: t.Collection[str] = ()) -> None:
        super().__init__(str(root / "backups"))
        self.answers = list(answers)
        self.asked: list[GateRequest] = []
        self.broken = set(broken)
        self.events: list[str] = []

    def _check(self, path: str) -> None:
        if path in self.broken:
            raise PermissionError(13, "Permission denied", path)

    def write_file(self, spec: FileSpec) -> None:
        self._check(spec.path)
        self.events.append(f"write {Path(spec.path).name}")
        super().write_file(spec)

    def restore_file(self, path: str, before: FileState) -> None:
        self._check(path)
        self.events.append(f"restore {Path(path).name}")
        super().restore_file(path, before)

    def replace_manifest(self, path: str, data: bytes) -> None:
        self._check(path)
        self.events.append(f"manifest {data.decode().splitlines()[-1]}")
        super().replace_manifest(path, data)

    def wait(self, gate: GateRequest) -> GateResult:
        self.events.append(f"wait {gate.command}")
        self.asked.append(gate)
        return self.answers.pop(0)


class Node:
    """A manifests directory with a pod and two configuration files: one there, one new."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = root / "manifests" / "kube-scheduler.yaml"
        self.manifest.parent.mkdir()
        self.manifest.write_bytes(OLD_MANIFEST)
        self.manifest.chmod(0o600)
        self.config = root / "bulwark" / "scheduler-config.yaml"
        self.config.parent.mkdir(mode=0o700)
        self.config.write_bytes(b"old: config\n")
        self.config.chmod(0o644)
        self.new_file = root / "bulwark" / "extra.yaml"

    def plan(self, gates: int = 1, *, manifest: bool = True, secret: bool = False) -> RolloutPlan:
        specs = [
            FileSpec(str(self.config), b"new: config\n", 0o600, secret=secret),
            FileSpec(str(self.new_file), b"extra: 1\n", 0o600),
        ]
        changes = plan_files(specs, {spec.path: read_state(spec.path) for spec in specs})
        gate = GateRequest("kube-scheduler", str(self.manifest), ("--profiling=false",), True, timeout=30)
        api = GateRequest("kube-apiserver", str(self.root / "manifests" / "kube-apiserver.yaml"), timeout=30)
        old = GateRequest("kube-scheduler", str(self.manifest), ("--profiling=true",), timeout=30)
        return RolloutPlan(
            manifest=str(self.manifest),
            before=OLD_MANIFEST,
            after=NEW_MANIFEST if manifest else None,
            files=tuple(changes),
            gates=(gate, api)[:gates],
            rollback_gates=(old, api)[:gates],
        )

    def state(self) -> tuple[bytes, bytes, int, bool, list[str]]:
        return (
            self.manifest.read_bytes(),
            self.config.read_bytes(),
            stat.S_IMODE(self.config.stat().st_mode),
            self.new_file.exists(),
            sorted(os.listdir(self.manifest.parent)),
        )


BEFORE = (OLD_MANIFEST, b"old: config\n", 0o644, False, ["kube-scheduler.yaml"])
AFTER = (NEW_MANIFEST, b"new: config\n", 0o600, True, ["kube-scheduler.yaml"])


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def failed(reason: str, *log: str) -> GateResult:
    return GateResult(False, 30.0, None, reason, ("(/var/log/pods/x/0.log)", *log))


# --------------------------------------------------------------------------- the way forward


def test_files_then_manifest_then_the_gates(node: Node) -> None:
    host = ScriptedHost(node.root, [HEALTHY, GateResult(True, 2.0, 7)])
    outcome = roll_out(host, node.plan(gates=2))
    assert host.events == [
        "write scheduler-config.yaml",
        "write extra.yaml",
        "manifest # new",
        "wait kube-scheduler",
        "wait kube-apiserver",
    ]
    assert node.state() == AFTER
    assert [gate.pid for gate in outcome.gates] == [4242, 7]
    assert sorted(Path(path).name for path in outcome.backups) == ["kube-scheduler.yaml", "scheduler-config.yaml"]
    assert Path(outcome.backups[str(node.manifest)]).read_bytes() == OLD_MANIFEST
    assert Path(outcome.backups[str(node.config)]).read_bytes() == b"old: config\n"
    assert stat.S_IMODE(Path(outcome.backups[str(node.config)]).stat().st_mode) == 0o600
    assert stat.S_IMODE(node.new_file.stat().st_mode) == 0o600


def test_a_file_change_alone_writes_no_manifest_and_waits_for_nothing(node: Node) -> None:
    host = ScriptedHost(node.root)
    roll_out(host, node.plan(manifest=False))
    assert host.events == ["write scheduler-config.yaml", "write extra.yaml"]
    assert host.asked == []
    assert node.manifest.read_bytes() == OLD_MANIFEST


# --------------------------------------------------------------------------- the ways back


def test_a_failed_gate_puts_files_and_manifest_back_and_waits_for_the_previous_pod(node: Node) -> None:
    host = ScriptedHost(
        node.root,
        [failed("pid 9 runs other arguments", 'E1201 "command failed" err="unknown flag: --bogus"'), HEALTHY],
    )
    with pytest.raises(RolloutFailed) as caught:
        roll_out(host, node.plan())
    assert host.events == [
        "write scheduler-config.yaml",
        "write extra.yaml",
        "manifest # new",
        "wait kube-scheduler",
        "restore extra.yaml",
        "restore scheduler-config.yaml",
        "manifest # old",
        "wait kube-scheduler",
    ]
    assert node.state() == BEFORE  # bytes, mode, the new file gone, nothing left in the manifests dir
    old_gate = host.asked[1]
    assert (old_gate.args, old_gate.newer_than_manifest) == (("--profiling=true",), False)
    assert caught.value.restored is True
    assert caught.value.msg == (
        "kube-scheduler was not healthy within 30 s: pid 9 runs other arguments. The previous manifest and files"
        ' are back, and kube-scheduler is healthy again. Its last log lines: E1201 "command failed" err="unknown'
        ' flag: --bogus"'
    )
    assert caught.value.failed is not None and caught.value.failed.log_tail[-1].endswith("--bogus\"")


def test_a_dependent_that_does_not_come_back_rolls_the_change_back(node: Node) -> None:
    host = ScriptedHost(
        node.root, [HEALTHY, failed("https://127.0.0.1:6443/readyz answered HTTP 500 (pid 3)"), HEALTHY, HEALTHY]
    )
    with pytest.raises(RolloutFailed) as caught:
        roll_out(host, node.plan(gates=2))
    assert [event for event in host.events if event.startswith("wait")] == [
        "wait kube-scheduler",
        "wait kube-apiserver",
        "wait kube-scheduler",
        "wait kube-apiserver",
    ]
    assert node.state() == BEFORE
    assert caught.value.msg.startswith(
        "kube-apiserver (after the change of kube-scheduler) was not healthy within 30 s:"
        " https://127.0.0.1:6443/readyz answered HTTP 500 (pid 3). The previous manifest and files are back, and"
        " kube-scheduler and kube-apiserver are healthy again."
    )


def test_a_file_kept_on_rollback_stays_as_written(node: Node) -> None:
    key = node.root / "bulwark" / "encryption.yaml"
    plan = node.plan()
    kept = FileSpec(str(key), b"a new key", 0o600, secret=True, keep_on_rollback=True)
    plan = RolloutPlan(
        plan.manifest, plan.before, plan.after, (*plan.files, *plan_files([kept], {str(key): FileState(False)})),
        plan.gates, plan.rollback_gates,
    )
    host = ScriptedHost(node.root, [failed("no kube-scheduler process runs"), HEALTHY])
    with pytest.raises(RolloutFailed) as caught:
        roll_out(host, plan)
    assert caught.value.restored is True
    assert node.state() == BEFORE
    assert key.read_bytes() == b"a new key"  # what the new pod may have encrypted with stays readable
    assert "restore encryption.yaml" not in host.events


def test_a_previous_pod_that_stays_unhealthy_is_said_plainly(node: Node) -> None:
    host = ScriptedHost(node.root, [failed("no kube-scheduler process runs"), failed("no kube-scheduler process runs")])
    with pytest.raises(RolloutFailed) as caught:
        roll_out(host, node.plan())
    assert node.state() == BEFORE
    assert caught.value.restored is False
    assert caught.value.msg == (
        "kube-scheduler was not healthy within 30 s: no kube-scheduler process runs. The previous manifest and files"
        " are back, but kube-scheduler is NOT healthy with them either: no kube-scheduler process runs."
    )


def test_a_file_that_cannot_be_written_leaves_the_rest_as_it_was(node: Node) -> None:
    host = ScriptedHost(node.root, broken=[str(node.new_file)])
    with pytest.raises(RolloutFailed) as caught:
        roll_out(host, node.plan())
    assert host.events == ["write scheduler-config.yaml", "restore scheduler-config.yaml"]
    assert node.state() == BEFORE
    assert caught.value.msg == f"cannot write {node.new_file}: Permission denied; what was already written is back as it was."


def test_a_manifest_that_cannot_be_written_puts_the_files_back(node: Node) -> None:
    host = ScriptedHost(node.root, broken=[str(node.manifest)])
    with pytest.raises(RolloutFailed):
        roll_out(host, node.plan())
    assert host.events == [
        "write scheduler-config.yaml",
        "write extra.yaml",
        "restore extra.yaml",
        "restore scheduler-config.yaml",
    ]
    assert node.state() == BEFORE


def test_a_restore_that_fails_says_the_node_needs_a_look(node: Node) -> None:
    host = ScriptedHost(node.root, [failed("no kube-scheduler process runs")])
    plan = node.plan()
    roll = host.restore_file

    def broken_restore(path: str, before: FileState) -> None:
        if path == str(node.config):
            raise PermissionError(13, "Permission denied", path)
        roll(path, before)

    host.restore_file = broken_restore  # type: ignore[method-assign]
    with pytest.raises(RolloutFailed) as caught:
        roll_out(host, plan)
    assert caught.value.msg == (
        "kube-scheduler was not healthy within 30 s: no kube-scheduler process runs. Putting the previous manifest"
        f" and files back failed: {node.config}: Permission denied; the node needs a look."
    )
    assert node.manifest.read_bytes() == OLD_MANIFEST  # the manifest is put back all the same
    assert not node.new_file.exists()


def test_a_backup_that_cannot_be_made_changes_nothing(node: Node) -> None:
    (node.root / "backups").write_text("a file where the directory should be")
    with pytest.raises(RolloutFailed) as caught:
        roll_out(ScriptedHost(node.root), node.plan())
    assert caught.value.msg.startswith("cannot write a backup copy: ")
    assert caught.value.msg.endswith("; nothing was changed.")
    assert node.state() == BEFORE


# --------------------------------------------------------------------------- files as data


@pytest.mark.parametrize(
    ("value", "mode"), [("0600", 0o600), ("600", 0o600), ("0640", 0o640), ("1750", 0o1750), (384, 0o600)]
)
def test_parse_mode(value: t.Any, mode: int) -> None:
    assert parse_mode("files[0].mode", value) == mode


@pytest.mark.parametrize("value", ["rwx", "u=rw", "0800", "06000x", "", True, -1, 0o10000, 1.5])
def test_parse_mode_refuses(value: t.Any) -> None:
    with pytest.raises(FileSpecError) as caught:
        parse_mode("files[0].mode", value)
    assert str(caught.value).startswith(f"files[0].mode: {value!r} is not a file mode; give it in octal, such as '0600'")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"path": "etc/x", "content": ""}], "files[0].path: 'etc/x' is not an absolute path."),
        (
            [{"path": "/etc/x", "content": "a"}, {"path": "/etc//x", "content": "b"}],
            "files[1].path: /etc/x is given twice.",
        ),
        ([{"path": "/etc/x"}], "files[0]: give exactly one of content and secret_content for /etc/x."),
        (
            [{"path": "/etc/x", "content": "a", "secret_content": "b"}],
            "files[0]: give exactly one of content and secret_content for /etc/x.",
        ),
        ([{"path": "/etc/x", "content": ["a"]}], "files[0]: the content of /etc/x must be a string, got list."),
        (
            [{"path": "/etc/x", "content": "a", "owner": "nobody-here"}],
            "files[0]: getpwnam(): name not found: 'nobody-here'; nothing was changed.",
        ),
    ],
)
def test_build_files_refuses(entries: list[dict[str, t.Any]], message: str) -> None:
    with pytest.raises(FileSpecError) as caught:
        build_files(entries, no_owner)
    assert str(caught.value) == message


def test_build_files() -> None:
    specs = build_files(
        [{"path": "/etc/k/a.yaml", "content": "a: 1\n"}, {"path": "/etc/k/key", "secret_content": "s", "mode": "0400"}],
        no_owner,
    )
    assert specs == [FileSpec("/etc/k/a.yaml", b"a: 1\n", 0o600), FileSpec("/etc/k/key", b"s", 0o400, secret=True)]


def test_plan_files() -> None:
    spec = FileSpec("/x", b"same\n", 0o600, uid=0)
    states = {
        "same": FileState(True, b"same\n", 0o600, 0, 0),
        "mode": FileState(True, b"same\n", 0o644, 0, 0),
        "owner": FileState(True, b"same\n", 0o600, 1000, 0),
        "content": FileState(True, b"other\n", 0o600, 0, 0),
        "absent": FileState(False),
    }
    changes = {name: plan_files([spec], {"/x": state})[0] for name, state in states.items()}
    assert {name: (c.content_changed, c.attributes_changed) for name, c in changes.items()} == {
        "same": (False, False),
        "mode": (False, True),
        "owner": (False, True),
        "content": (True, False),
        "absent": (True, False),
    }


def test_config_digest_follows_content_only() -> None:
    a = FileSpec("/etc/k/a.yaml", b"a: 1\n")
    digest = config_digest([a], {"/etc/k/enc.yaml": b"key"})
    assert len(digest) == 16
    assert digest == config_digest([FileSpec("/etc/k/a.yaml", b"a: 1\n", 0o644)], {"/etc/k/enc.yaml": b"key"})
    assert digest != config_digest([FileSpec("/etc/k/a.yaml", b"a: 2\n")], {"/etc/k/enc.yaml": b"key"})
    assert digest != config_digest([a], {"/etc/k/enc.yaml": b"other key"})
    assert digest != config_digest([a], {"/etc/k/enc.yaml": None})
    assert b"key".hex() not in digest


def test_file_diffs_redact_secrets_and_show_modes() -> None:
    public = FileSpec("/etc/k/a.yaml", b"a: 2\n")
    secret = FileSpec("/etc/k/key", b"s3cr3t", 0o400, secret=True)
    changes = plan_files(
        [public, secret], {"/etc/k/a.yaml": FileState(True, b"a: 1\n", 0o644), "/etc/k/key": FileState(False)}
    )
    assert file_diffs(changes) == [
        {
            "before_header": "/etc/k/a.yaml (mode 0644)",
            "after_header": "/etc/k/a.yaml (mode 0600)",
            "before": "a: 1\n",
            "after": "a: 2\n",
        },
        {"before_header": "/etc/k/key (absent)", "after_header": "/etc/k/key (mode 0400)", "before": "", "after": SECRET_MARKER},
    ]
    # A secret whose mode alone changes is not shown either.
    loose = plan_files([secret], {"/etc/k/key": FileState(True, b"s3cr3t", 0o644)})
    assert file_diffs(loose) == [
        {
            "before_header": "/etc/k/key (mode 0644)",
            "after_header": "/etc/k/key (mode 0400)",
            "before": SECRET_MARKER,
            "after": SECRET_MARKER,
        }
    ]


def test_log_words_put_the_error_of_an_ended_attempt_before_a_restart_s_first_lines() -> None:
    # The gate gave up while the pod restarted: the newest file has only usage text so far.
    crashed = GateResult(
        False,
        30.0,
        None,
        "no kube-scheduler process runs",
        (
            "(/var/log/pods/kube-system_kube-scheduler-n_1/kube-scheduler/5.log)",
            "Usage:",
            'Error: invalid argument "banana" for "--leader-elect-lease-duration" flag',
            "(/var/log/pods/kube-system_kube-scheduler-n_1/kube-scheduler/6.log)",
            "Usage:",
            "  kube-scheduler [flags]",
            "Misc flags:",
            "      --config string",
            "      --master string",
            "Global flags:",
        ),
    )
    assert log_words(crashed) == (
        ' Its last log lines: Error: invalid argument "banana" for "--leader-elect-lease-duration" flag /'
        "   kube-scheduler [flags] / Misc flags: /       --config string /       --master string / Global flags:"
    )
    quiet = GateResult(False, 1.0, None, "x", ("(/var/log/pods/a/0.log)", "one", "two"))
    assert log_words(quiet) == " Its last log lines: one / two"
    assert log_words(GateResult(False, 1.0, None, "x", ("(no log file matches /var/log/pods/x)",))) == ""
