#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: static_pod_args
short_description: Set and remove the flags of a Kubernetes static pod manifest
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Edits the command-line flags of one container of a static pod manifest, such as the
    C(/etc/kubernetes/manifests/kube-apiserver.yaml) that kubeadm writes, as data. Flags that are not set or
    removed, and the rest of the pod, are kept.
  - Flags are read from the container's C(command) (after the program name, where kubeadm puts them) and C(args),
    written as C(--name=value) or C(--name), and read as C(--name value) too. A flag that is changed keeps its
    place; a new flag goes to the list that holds the flags, in sorted position when the flags there are sorted
    (kubeadm sorts them), at the end otherwise.
  - Before anything changes, checks the names of the flags of O(set) against the C(--help) of the component
    (see O(validate_flags)); an unknown flag is an error that names the closest known one and the component's
    version.
  - Mounts the directories of the files that the flags of O(set) name, when no mount of the container covers
    them (see O(auto_mount)), and adds the hostPath volumes of O(volumes).
  - The file is written only when the pod changes, compared as data. It is then written as YAML in the key order
    it had (kubeadm's); comments are not kept. The file is replaced atomically and keeps its owner and mode; a
    backup copy is kept outside the manifests directory.
  - Kubelet restarts the static pod when its manifest changes. Change one control-plane node at a time and wait
    for the component to be healthy before the next.
  - A file that is not valid YAML, or not a pod, is never rewritten; the module fails and says why.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the manifest and runs the component's C(--help) and C(--version), but never writes.
  diff_mode:
    support: full
    details:
      - The diff shows the whole manifest text before and after.
  idempotent:
    support: full
requirements:
  - PyYAML on the target.
options:
  path:
    description:
      - The static pod manifest to edit. It must exist.
    type: path
    required: true
  container:
    description:
      - The name of the container whose flags are edited.
      - Required when the pod has more than one container.
    type: str
  set:
    description:
      - Flags to set, as a dictionary of flag names without the leading C(--) (for example V(anonymous-auth)) and
        values.
      - A bool value is written as V(true) or V(false), a number as its digits, a list joined with commas, and
        V(null) (C(~)) writes the flag without a value (C(--name)). A flag without a value and one with V(true)
        are the same.
      - For flags of O(list_flags), the items of the value are added to the items the flag has, unless
        O(replace_lists).
    type: dict
  remove:
    description:
      - Names of flags to delete, without the leading C(--). Flags that are not there are fine, and these names
        are not checked against C(--help), so that flags that the component no longer has can be removed.
    type: list
    elements: str
  list_flags:
    description:
      - Flags whose values are comma-separated sets. O(set) adds its items to them, keeping the items and the order
        that they have, instead of replacing the value.
    type: list
    elements: str
    default:
      - enable-admission-plugins
      - disable-admission-plugins
      - authorization-mode
      - tls-cipher-suites
  replace_lists:
    description:
      - Replace the values of the O(list_flags) given in O(set) instead of adding to them.
    type: bool
    default: false
  remove_list_items:
    description:
      - Items to take out of comma-separated flag values, as a dictionary of flag names and lists of items, for
        example the item V(AlwaysAdmit) of C(enable-admission-plugins).
      - A flag left without items is removed.
    type: dict
  volumes:
    description:
      - HostPath volumes and their mounts in the container, added or corrected to be as given.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The name of the volume and of the mount, a DNS label.
        type: str
        required: true
      host_path:
        description:
          - The absolute path on the host.
        type: str
        required: true
      mount_path:
        description:
          - The absolute path in the container. Defaults to O(volumes[].host_path).
        type: str
      read_only:
        description:
          - Mount the volume read-only.
        type: bool
        default: true
      type:
        description:
          - The C(hostPath) type. V("") does no check.
        type: str
        default: DirectoryOrCreate
        choices: [DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice, ""]
  auto_mount:
    description:
      - For every flag of O(set) whose value (or an item of it) is an absolute path that no mount of the container
        covers (a C(mountPath) that is the path or one of its parent directories), add a C(hostPath) volume of
        type V(DirectoryOrCreate) for the file's directory, mounted at the same path.
      - The mounts are read-only, except for the flags the component writes to (C(audit-log-path), C(log-file),
        C(log-dir)), which also need a mount that is not read-only to be covered.
      - Volumes are named after the directory, such as V(bulwark-etc-kubernetes-audit); see RV(volumes_added).
    type: bool
    default: true
  annotations:
    description:
      - Annotations to set on the pod, as key to value; others are kept.
      - kubelet restarts a static pod when its manifest changes, not when a file it reads changes. An annotation that
        carries a digest of those files (as the C(kube_apiserver) role sets) makes a new file restart the pod too.
    type: dict
  conflicts:
    description:
      - Flags of O(set) that the manifest may not already set to another value. When it does, the module fails before
        any change, naming the flag and both values.
      - Meant for flags that name a whole configuration file, such as C(authentication-config) and
        C(admission-control-config-file); pointing them at a new file would silently drop everything the old one
        configured.
    type: list
    elements: str
  validate_flags:
    description:
      - Run O(help_command) and fail, before anything changes, when a flag of O(set) is not in its output.
      - Runs when O(set) is given, in check mode too.
    type: bool
    default: true
  binary:
    description:
      - The component's program on this host, a path or a name looked up in E(PATH), used to run C(--help) and
        C(--version).
      - Defaults to the first item of the container's C(command), such as V(kube-apiserver). Kubeadm runs the
        component from its image, so that program is often not on the host; set O(binary) or O(help_command), or
        O(validate_flags=false).
    type: str
  help_command:
    description:
      - The command that prints the component's C(--help), as a list of arguments, for example one that runs the
        image with a container runtime. Defaults to O(binary) and V(--help).
      - When it ends with V(--help), the same command with V(--version) gives RV(version).
    type: list
    elements: str
  backup:
    description:
      - Keep a copy of the manifest, with a timestamp in its name and mode V(0600), in O(backup_dir) before it is
        changed.
    type: bool
    default: true
  backup_dir:
    description:
      - Where backups go. It must not be the manifests directory or inside it, since kubelet would start every copy
        there as one more pod (kubernetes/kubernetes#55596). It is created with mode V(0700) if missing.
    type: path
    default: /var/backups/bulwark/static-pods
notes:
  - Flags given more than once in the manifest are set once, in the place of the first; repeated O(list_flags)
    count as one list.
seealso:
  - name: kube-apiserver reference
    description: The flags of kube-apiserver.
    link: https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/
  - name: CIS Kubernetes Benchmark
    description: Section 1.2 lists the kube-apiserver flags that harden the control plane.
    link: https://www.cisecurity.org/benchmark/kubernetes
"""

EXAMPLES = r"""
- name: Harden the kube-apiserver flags | CIS-Kubernetes 1.2.1, 1.2.15, 1.2.16
  bulwark.hardening.static_pod_args:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    set:
      anonymous-auth: false
      profiling: false
      enable-admission-plugins: [NodeRestriction, PodSecurity]
    remove_list_items:
      enable-admission-plugins: [AlwaysAdmit]
    help_command: [nerdctl, run, --rm, "registry.k8s.io/kube-apiserver:v1.37.2", kube-apiserver, --help]

- name: Turn on the audit log; its directory is mounted writable, the policy's read-only
  bulwark.hardening.static_pod_args:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    set:
      audit-policy-file: /etc/kubernetes/audit/policy.yaml
      audit-log-path: /var/log/kubernetes/audit/audit.log
      audit-log-maxage: 30
    binary: /usr/local/bin/kube-apiserver

- name: Remove a flag that kube-apiserver no longer has
  bulwark.hardening.static_pod_args:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    remove: [insecure-port]

- name: Audit only (check mode), showing what would change
  bulwark.hardening.static_pod_args:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    set:
      anonymous-auth: false
    validate_flags: false
  check_mode: true
  diff: true
  register: __kube_apiserver_flags
"""

RETURN = r"""
args:
  description:
    - The flags of the container after the task (in check mode, what they would be), C(command) after the program
      name, then C(args).
  returned: success
  type: list
  elements: str
  sample: ["--advertise-address=172.18.0.2", "--allow-privileged=true", "--anonymous-auth=false"]
flags_added:
  description:
    - Names of the flags that were (or would be) added.
  returned: success
  type: list
  elements: str
  sample: ["anonymous-auth"]
flags_changed:
  description:
    - The flags whose value was (or would be) changed, with the values before and after; V(null) is a flag without
      a value.
  returned: success
  type: dict
  sample: {"enable-admission-plugins": {"before": "NodeRestriction", "after": "NodeRestriction,PodSecurity"}}
flags_removed:
  description:
    - Names of the flags that were (or would be) removed.
  returned: success
  type: list
  elements: str
  sample: ["insecure-port"]
volumes_added:
  description:
    - Names of the volumes that were (or would be) added, by O(volumes) and O(auto_mount).
  returned: success
  type: list
  elements: str
  sample: ["bulwark-var-log-kubernetes-audit"]
flags:
  description:
    - Every flag of the container after the task, as name (without C(--)) to value; V(null) is a flag without a value.
  returned: success
  type: dict
  sample: {"advertise-address": "172.18.0.2", "profiling": "false"}
item_status:
  description:
    - For each flag named in O(set), O(remove) and O(remove_list_items), V(ok) when it already was as asked and
      V(changed) when the task changed it (or would, in check mode). The compliance report reads it.
    - Each item of a list flag in O(set) or O(remove_list_items) has its own entry, keyed C(flag/item), because one
      flag often carries several controls.
  returned: success
  type: dict
  sample: {"profiling": "changed", "enable-admission-plugins": "ok", "enable-admission-plugins/NodeRestriction": "ok"}
backup_file:
  description:
    - The copy of the manifest made before it was changed.
  returned: when O(backup=true) and the manifest was changed
  type: str
  sample: /var/backups/bulwark/static-pods/kube-apiserver.yaml.20250131T120000.123456Z
version:
  description:
    - The first line of the component's C(--version), or V(null) when the flags were not validated or the version
      is unknown.
  returned: success
  type: str
  sample: Kubernetes v1.37.2
diff:
  description:
    - The manifest text before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The text of the file.
      type: str
    after:
      description: The text the file has (or would have) after the task.
      type: str
  sample: {"before": "apiVersion: v1\n...", "after": "apiVersion: v1\n..."}
"""

import datetime
import os
import tempfile
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import (
    DEFAULT_LIST_FLAGS,
    HAS_YAML,
    HOST_PATH_TYPES,
    YAML_IMPORT_ERROR,
    Request,
    StaticPodError,
    backup_name,
    build_request,
    check_backup_dir,
    check_flags_known,
    parse_help_flags,
    parse_manifest,
    parse_version,
    plan,
    render_manifest,
    select_container,
)

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "path", "required": True},
    "container": {"type": "str"},
    "set": {"type": "dict"},
    "remove": {"type": "list", "elements": "str"},
    "list_flags": {"type": "list", "elements": "str", "default": list(DEFAULT_LIST_FLAGS)},
    "replace_lists": {"type": "bool", "default": False},
    "remove_list_items": {"type": "dict"},
    "volumes": {
        "type": "list",
        "elements": "dict",
        "options": {
            "name": {"type": "str", "required": True},
            "host_path": {"type": "str", "required": True},
            "mount_path": {"type": "str"},
            "read_only": {"type": "bool", "default": True},
            "type": {"type": "str", "default": "DirectoryOrCreate", "choices": list(HOST_PATH_TYPES)},
        },
    },
    "auto_mount": {"type": "bool", "default": True},
    "annotations": {"type": "dict"},
    "conflicts": {"type": "list", "elements": "str"},
    "validate_flags": {"type": "bool", "default": True},
    "binary": {"type": "str"},
    "help_command": {"type": "list", "elements": "str"},
    "backup": {"type": "bool", "default": True},
    "backup_dir": {"type": "path", "default": "/var/backups/bulwark/static-pods"},
}


def read_manifest(path: str) -> tuple[bytes, str]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise StaticPodError(f"{path} does not exist; static_pod_args edits existing static pod manifests.") from None
    except OSError as exc:
        raise StaticPodError(f"cannot read {path}: {to_native(exc.strerror)}; nothing was changed.") from exc
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StaticPodError(f"{path} is not valid UTF-8 (byte {exc.start}); nothing was changed.") from exc


def find_program(module: AnsibleModule, name: str, what: str) -> str:
    if "/" in name:
        found = name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    else:
        found = module.get_bin_path(name)
    if not found:
        raise StaticPodError(
            f"validate_flags: cannot find {name} ({what}) on this host to read its --help; kubeadm runs the components"
            " from their images. Set binary to its path, or help_command to a command that prints its --help (one"
            " that runs the image, for example), or set validate_flags to false. Nothing was changed."
        )
    return str(found)


def validate_flags(module: AnsibleModule, container: dict[str, t.Any], request: Request) -> str | None:
    """Fail for flags of set that the component's --help does not list; returns its version."""
    binary: str | None = module.params["binary"]
    help_command: list[str] | None = module.params["help_command"]
    if help_command:
        argv = [find_program(module, help_command[0], "the first item of help_command")] + help_command[1:]
        version_argv = argv[:-1] + ["--version"] if argv[-1] == "--help" else None
        # [..., "kube-apiserver", "--help"] names the component; else the program run
        shown = binary or (help_command[-2] if version_argv and len(help_command) > 1 else help_command[0])
        shown = os.path.basename(shown)
    else:
        command = container.get("command")
        what = "binary"
        if not binary:
            if not (isinstance(command, list) and command and isinstance(command[0], str)):
                raise StaticPodError(
                    f"validate_flags: container '{container['name']}' has no command to run with --help; set binary"
                    " or help_command, or set validate_flags to false. Nothing was changed."
                )
            binary, what = command[0], f"the command of container '{container['name']}'"
        program = find_program(module, binary, what)
        argv, version_argv, shown = [program, "--help"], [program, "--version"], os.path.basename(binary)
    rc, out, err = module.run_command(argv)
    known = parse_help_flags(f"{out}\n{err}")
    if not known:
        output = " ".join((err or out).split())[:300]
        raise StaticPodError(
            f"validate_flags: '{' '.join(argv)}' listed no flags (exit code {rc}{': ' + output if output else ''});"
            " set help_command to a command that prints the component's --help, or set validate_flags to false."
            " Nothing was changed."
        )
    version = None
    if version_argv:
        rc, out, err = module.run_command(version_argv)
        version = parse_version(out or err) if rc == 0 else None
    check_flags_known(request.set, known, shown, version)
    return version


def make_backup(backup_dir: str, path: str, data: bytes) -> str:
    """Write ``data`` to a new file of mode 0600 in ``backup_dir``."""
    os.makedirs(backup_dir, mode=0o700, exist_ok=True)
    base = os.path.join(backup_dir, backup_name(path, datetime.datetime.now(datetime.timezone.utc)))
    for number in range(100):
        target = base if number == 0 else f"{base}.{number}"
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
        return target
    raise StaticPodError(f"backup_dir: cannot find a free backup name for {base}; nothing was changed.")


def write(module: AnsibleModule, path: str, content: str) -> None:
    """Replace ``path`` atomically. The new content is staged in the module's temporary directory, never
    under a visible name in the manifests directory, where kubelet would start it as a pod."""
    fd, tmp = tempfile.mkstemp(prefix=".static-pod.", suffix=".tmp", dir=module.tmpdir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(content))
        module.atomic_move(tmp, path)  # keeps the owner, mode and SELinux context of path
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    params = module.params
    path: str = params["path"]

    backup_file = None
    version = None
    try:
        request = build_request(
            params["set"],
            params["remove"],
            params["list_flags"],
            params["replace_lists"],
            params["remove_list_items"],
            params["volumes"],
            params["auto_mount"],
            params["annotations"],
            params["conflicts"],
        )
        if params["backup"]:
            manifest_dirs = {os.path.dirname(os.path.abspath(path)), os.path.dirname(os.path.realpath(path))}
            check_backup_dir(os.path.realpath(params["backup_dir"]), manifest_dirs)
        data, text = read_manifest(path)  # I/O
        pod = parse_manifest(text, path)  # pure
        if params["validate_flags"] and request.set:
            version = validate_flags(module, select_container(pod, params["container"], path), request)  # I/O
        result = plan(pod, request, params["container"], path)  # pure
        new_text = render_manifest(result.after) if result.changed else text
        if result.changed and not module.check_mode:
            if params["backup"]:
                backup_file = make_backup(params["backup_dir"], path, data)
            write(module, path, new_text)
    except StaticPodError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(
            msg=f"cannot write {path} or its backup: {to_native(exc)}; {path} was not changed.",
            exception=traceback.format_exc(),
        )

    output: dict[str, t.Any] = {
        "changed": result.changed,
        "args": result.args,
        "flags_added": result.flags_added,
        "flags_changed": result.flags_changed,
        "flags_removed": result.flags_removed,
        "volumes_added": result.volumes_added,
        "flags": result.flags,
        "item_status": result.item_status,
        "version": version,
    }
    if backup_file:
        output["backup_file"] = backup_file
    if module._diff:
        output["diff"] = {"before": text, "after": to_text(new_text), "before_header": path, "after_header": path}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
