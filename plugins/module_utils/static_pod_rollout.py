# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One safe change of a static pod, as a sequence: back up, write the configuration files, write
the manifest, wait at the gate, and when the gate fails put everything back, wait for the previous
pod and say why.

The order is the safety. Files go before the manifest, so the new pod never starts without them;
on the way back files go first again, so the restored manifest never starts with a new, faulty
file. The host comes in through a ``Host`` object (``static_pod_io.NodeHost`` on a node), so that
unit tests reach every path of the rollback with real files in a scratch directory and a
scripted gate.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.bulwark.hardening.plugins.module_utils._io import FileState

__all__ = [
    "FileChange",
    "FileSpec",
    "GateRequest",
    "GateResult",
    "Host",
    "Outcome",
    "RolloutFailed",
    "RolloutPlan",
    "build_files",
    "config_digest",
    "file_diffs",
    "log_words",
    "parse_mode",
    "plan_files",
    "roll_out",
]

SECRET_MARKER = "(secret content, not shown)\n"
_OCTAL_MODE = re.compile(r"0?[0-7]{3,4}\Z")


class FileSpecError(ValueError):
    """A bad entry of the ``files`` option; the message names it and is shown as is."""


# --------------------------------------------------------------------------- the files


@dataclass(frozen=True)
class FileSpec:
    """A configuration file the pod reads, as it must be. ``uid``/``gid`` None: whatever it has (a
    new file: root). ``keep_on_rollback``: a file a rollback leaves as written, such as a new
    encryption key that may already have encrypted what the new pod stored."""

    path: str
    content: bytes = field(repr=False)
    mode: int = 0o600
    uid: int | None = None
    gid: int | None = None
    secret: bool = False
    keep_on_rollback: bool = False


@dataclass(frozen=True)
class FileChange:
    spec: FileSpec
    before: FileState
    content_changed: bool
    attributes_changed: bool

    @property
    def changed(self) -> bool:
        return self.content_changed or self.attributes_changed


def parse_mode(where: str, value: t.Any) -> int:
    """An octal file mode: '0600', '600', or a number (YAML reads 0600 as 384)."""
    if isinstance(value, bool):
        raise FileSpecError(f"{where}: {value!r} is not a file mode; give it in octal, such as '0600'.")
    if isinstance(value, int) and 0 <= value <= 0o7777:
        return value
    if isinstance(value, str) and _OCTAL_MODE.match(value):
        return int(value, 8)
    raise FileSpecError(f"{where}: {value!r} is not a file mode; give it in octal, such as '0600' (symbolic modes are not accepted).")


def build_files(
    entries: t.Sequence[t.Mapping[str, t.Any]],
    resolve_owner: t.Callable[[str | None, str | None], tuple[int | None, int | None]],
) -> list[FileSpec]:
    """Validate the ``files`` option. RESOLVE_OWNER maps owner and group names to ids (KeyError
    for one that does not exist)."""
    specs: list[FileSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"files[{index}]"
        path = entry.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise FileSpecError(f"{where}.path: {path!r} is not an absolute path.")
        path = posixpath.normpath(path)
        if path in seen:
            raise FileSpecError(f"{where}.path: {path} is given twice.")
        seen.add(path)
        content, secret = entry.get("content"), entry.get("secret_content")
        if (content is None) == (secret is None):
            raise FileSpecError(f"{where}: give exactly one of content and secret_content for {path}.")
        text = secret if secret is not None else content
        if not isinstance(text, str):
            raise FileSpecError(f"{where}: the content of {path} must be a string, got {type(text).__name__}.")
        mode = parse_mode(f"{where}.mode", entry.get("mode", "0600"))
        try:
            uid, gid = resolve_owner(entry.get("owner"), entry.get("group"))
        except KeyError as exc:
            raise FileSpecError(f"{where}: {exc.args[0] if exc.args else exc}; nothing was changed.") from None
        specs.append(FileSpec(path, text.encode("utf-8"), mode, uid, gid, secret is not None))
    return specs


def plan_files(specs: t.Iterable[FileSpec], states: t.Mapping[str, FileState]) -> list[FileChange]:
    """How each file differs from what is on the host (STATES, by path)."""
    changes = []
    for spec in specs:
        before = states[spec.path]
        content_changed = not before.exists or before.content != spec.content
        attributes_changed = before.exists and (
            before.mode != spec.mode
            or (spec.uid is not None and before.uid != spec.uid)
            or (spec.gid is not None and before.gid != spec.gid)
        )
        changes.append(FileChange(spec, before, content_changed, attributes_changed))
    return changes


def config_digest(specs: t.Iterable[FileSpec], watched: t.Mapping[str, bytes | None]) -> str:
    """A short digest of the content of the files the pod reads: SPECS as they will be, WATCHED
    as they are (None: missing). kubelet restarts a static pod when its manifest changes, not when
    a file it reads does; an annotation with this digest makes the one follow the other."""
    digest = hashlib.sha256()
    contents = {spec.path: spec.content for spec in specs}
    contents.update(watched)
    for path in sorted(contents):
        content = contents[path]
        digest.update(path.encode("utf-8") + b"\0")
        digest.update(b"absent\0" if content is None else hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def _shown(content: bytes | None, secret: bool) -> str:
    if content is None:
        return ""
    if secret:
        return SECRET_MARKER
    return content.decode("utf-8", "replace")


def file_diffs(changes: t.Iterable[FileChange]) -> list[dict[str, str]]:
    """Ansible diffs of the files that change; a secret's content is replaced by a marker."""
    diffs = []
    for change in changes:
        if not change.changed:
            continue
        spec, before = change.spec, change.before
        old_mode = "absent" if not before.exists else f"mode {before.mode:04o}"
        diffs.append(
            {
                "before_header": f"{spec.path} ({old_mode})",
                "after_header": f"{spec.path} (mode {spec.mode:04o})",
                "before": _shown(before.content, spec.secret),
                "after": _shown(spec.content, spec.secret),
            }
        )
    return diffs


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class GateRequest:
    """What "healthy" means for one pod: a process of COMMAND with ARGS (None: any), started after
    the manifest was written when NEWER_THAN_MANIFEST, whose probes (URLs, as kubelet runs them)
    pass for STABLE_FOR seconds, within TIMEOUT."""

    command: str
    manifest: str
    args: tuple[str, ...] | None = None
    newer_than_manifest: bool = False
    probe_urls: tuple[str, ...] = ()
    log_glob: str | None = None
    timeout: float = 180
    stable_for: float = 5


@dataclass(frozen=True)
class GateResult:
    ready: bool
    waited: float
    pid: int | None = None
    reason: str = ""
    log_tail: tuple[str, ...] = ()


class Host(t.Protocol):
    def backup(self, path: str, data: bytes) -> str: ...

    def write_file(self, spec: FileSpec) -> None: ...

    def restore_file(self, path: str, before: FileState) -> None: ...

    def replace_manifest(self, path: str, data: bytes) -> None: ...

    def wait(self, gate: GateRequest) -> GateResult: ...


# --------------------------------------------------------------------------- the rollout


@dataclass(frozen=True)
class RolloutPlan:
    manifest: str
    before: bytes = field(repr=False)
    after: bytes | None = field(repr=False)  # None: the manifest stays as it is
    files: tuple[FileChange, ...] = ()
    gates: tuple[GateRequest, ...] = ()  # the new pod, then the pods that depend on it; empty: no wait
    rollback_gates: tuple[GateRequest, ...] = ()  # the previous pod, then the same dependents
    backup: bool = True


@dataclass
class Outcome:
    backups: dict[str, str] = field(default_factory=dict)  # path -> its backup copy
    gates: list[GateResult] = field(default_factory=list)


class RolloutFailed(Exception):
    """The change was not kept. ``msg`` says why and what state the node is in."""

    def __init__(self, msg: str, outcome: Outcome, failed: GateResult | None = None, restored: bool = False):
        super().__init__(msg)
        self.msg = msg
        self.outcome = outcome
        self.failed = failed
        self.restored = restored  # True: the previous manifest and files are back and healthy


# What a component says when it fails: klog's error and fatal lines and err="...", cobra's
# "Error: ..." (a flag it cannot parse), etcd's JSON lines of level error or fatal.
_ERROR_LINE = re.compile(r'^(?:[EF]\d{4} |Error: )|\berr="|"level":"(?:error|fatal)"')


def log_words(result: GateResult, lines: int = 6) -> str:
    """The component's own words for a failure message: its last error lines, then its last lines."""
    logged = [line for line in result.log_tail if not line.startswith("(")]
    errors = [line for line in logged if _ERROR_LINE.search(line)][-(lines // 2) :]
    shown = list(dict.fromkeys(errors + logged[-(lines - len(errors)) :]))
    return f" Its last log lines: {' / '.join(shown)}" if shown else ""


def _put_back(host: Host, plan: RolloutPlan, written: list[FileChange], manifest_written: bool) -> list[str]:
    """Restore what was written, files first; returns the problems met (empty: all put back)."""
    problems = []
    for change in reversed(written):
        if change.spec.keep_on_rollback:
            continue
        try:
            host.restore_file(change.spec.path, change.before)
        except OSError as exc:
            problems.append(f"{change.spec.path}: {exc.strerror or exc}")
    if manifest_written:
        try:
            host.replace_manifest(plan.manifest, plan.before)
        except OSError as exc:
            problems.append(f"{plan.manifest}: {exc.strerror or exc}")
    return problems


def roll_out(host: Host, plan: RolloutPlan) -> Outcome:
    """Carry out PLAN on HOST; raises RolloutFailed when the change cannot be written or the gate
    fails, after putting the previous manifest and files back."""
    outcome = Outcome()
    changed_files = [change for change in plan.files if change.changed]
    try:
        if plan.backup:
            if plan.after is not None:
                outcome.backups[plan.manifest] = host.backup(plan.manifest, plan.before)
            for change in changed_files:
                if change.before.exists and change.content_changed and change.before.content is not None:
                    outcome.backups[change.spec.path] = host.backup(change.spec.path, change.before.content)
    except OSError as exc:
        raise RolloutFailed(f"cannot write a backup copy: {exc}; nothing was changed.", outcome) from exc

    written: list[FileChange] = []
    manifest_written = False
    target = plan.manifest
    try:
        for change in changed_files:
            target = change.spec.path
            host.write_file(change.spec)
            written.append(change)
        if plan.after is not None:
            target = plan.manifest
            host.replace_manifest(plan.manifest, plan.after)
            manifest_written = True
    except OSError as exc:
        problems = _put_back(host, plan, written, manifest_written)
        state = (
            "what was already written is back as it was."
            if not problems
            else f"putting back what was already written failed too ({'; '.join(problems)}): the node needs a look."
        )
        raise RolloutFailed(f"cannot write {target}: {exc.strerror or exc}; {state}", outcome) from exc

    for gate in plan.gates if manifest_written else ():
        result = host.wait(gate)
        outcome.gates.append(result)
        if not result.ready:
            raise _rolled_back(host, plan, written, gate, result, outcome)
    return outcome


def _rolled_back(
    host: Host, plan: RolloutPlan, written: list[FileChange], gate: GateRequest, failed: GateResult, outcome: Outcome
) -> RolloutFailed:
    first = plan.gates[0].command
    what = f"{gate.command}" if gate.command == first else f"{gate.command} (after the change of {first})"
    msg = f"{what} was not healthy within {gate.timeout:g} s: {failed.reason}."
    problems = _put_back(host, plan, written, True)
    if problems:
        msg += f" Putting the previous manifest and files back failed: {'; '.join(problems)}; the node needs a look."
        return RolloutFailed(msg + log_words(failed), outcome, failed)
    for old in plan.rollback_gates:
        result = host.wait(old)
        if not result.ready:
            msg += (
                f" The previous manifest and files are back, but {old.command} is NOT healthy with them either:"
                f" {result.reason}."
            )
            return RolloutFailed(msg + log_words(failed), outcome, failed)
    if not plan.rollback_gates:
        return RolloutFailed(msg + " The previous manifest and files are back." + log_words(failed), outcome, failed)
    healthy = list(dict.fromkeys(old.command for old in plan.rollback_gates))
    msg += (
        f" The previous manifest and files are back, and {' and '.join(healthy)}"
        f" {'is' if len(healthy) == 1 else 'are'} healthy again."
    )
    return RolloutFailed(msg + log_words(failed), outcome, failed, restored=True)
