#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: static_pod
short_description: Change a Kubernetes static pod safely - flags, configuration files, rollout and rollback in one call
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Changes one static pod of a control-plane node, such as the C(/etc/kubernetes/manifests/kube-scheduler.yaml)
    that kubeadm writes, in one call that plans, applies, waits for health and rolls back.
  - B(Plan.) Edits the command-line flags of one container as data; flags that are not set or removed, and the
    rest of the pod, are kept. Flags are read from the container's C(command) (after the program name, where
    kubeadm puts them) and C(args), written as C(--name=value) or C(--name), and read as C(--name value) too. A flag
    that is changed keeps its place; a new one goes in sorted position when the flags are sorted (kubeadm sorts
    them). The names of the flags of O(set) are checked against the component's own C(--help) (see
    O(validate_flags)); an unknown flag is an error that names the closest known one and the version. List flags
    are merged, and the directories of the files that flags name are mounted (see O(auto_mount)). Flags of
    O(set) that name a file the pod reads must name one that exists (see O(check_paths)), and O(required_flags)
    must be there. All of this happens before anything is written; a bad input changes nothing.
  - B(Apply.) Writes the configuration files of O(files) (atomically, with their mode; the content of
    O(files[].secret_content) is never shown), then the manifest. The manifest carries a digest of those files and
    of O(watch_files) in the annotation O(digest_annotation), so that a change of a file alone restarts the pod
    too. Every file replaced is backed up in O(backup_dir), outside the manifests directory. Nothing is ever staged
    under a name kubelet would run as a pod.
  - B(Wait.) After a change of the manifest, waits until the pod's process was started after the manifest was
    written, runs exactly the manifest's arguments, and passes its own liveness and readiness probes the way
    kubelet runs them (HTTP GET without credentials or certificate checks) for O(stable_for) seconds; then the same
    for the pods of O(wait_for) (the API server after a change of etcd).
  - B(Roll back.) When the gate fails within O(timeout), puts the previous files and manifest back (files first),
    waits for the previous pod and the pods of O(wait_for) to be healthy again, and fails with the reason and the
    component's own last log lines.
  - Change one control-plane node at a time (C(serial=1)), so that the others serve while one restarts.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the manifest and the files and runs the component's C(--help) and C(--version), but writes nothing
        and waits for nothing.
  diff_mode:
    support: full
    details:
      - One diff per file that changes (the content of a secret one replaced by a marker, the mode in the header),
        then the manifest text before and after, which shows the flags and volumes changed.
  idempotent:
    support: full
requirements:
  - PyYAML on the target.
options:
  path:
    description:
      - The static pod manifest. It must exist.
    type: path
    required: true
  container:
    description:
      - The name of the container whose flags are edited. Required when the pod has more than one container.
    type: str
  set:
    description:
      - Flags to set, as a dictionary of flag names without the leading C(--) (for example V(profiling)) and values.
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
  map_flags:
    description:
      - Flags whose values are comma-separated maps of V(key=value) items. O(set) sets the keys it names and keeps
        the other items, so V(RotateKubeletServerCertificate=true) of C(feature-gates) replaces
        V(RotateKubeletServerCertificate=false) and keeps the other gates.
      - Each key has its own entry in RV(item_status), keyed C(flag/key).
    type: list
    elements: str
    default: [feature-gates, runtime-config]
  replace_lists:
    description:
      - Replace the values of the O(list_flags) and O(map_flags) given in O(set) instead of merging into them.
    type: bool
    default: false
  remove_list_items:
    description:
      - Items to take out of comma-separated flag values, as a dictionary of flag names and lists of items, for
        example the item V(AlwaysAdmit) of C(enable-admission-plugins). A flag left without items is removed.
    type: dict
  required_flags:
    description:
      - Flags the container must have after the change, such as the certificate flags kubeadm sets. When one is
        missing, the module fails before any change and names it.
    type: list
    elements: str
  conflicts:
    description:
      - Flags of O(set) that the manifest may not already set to another value. When it does, the module fails
        before any change, naming the flag and both values.
      - Meant for flags that name a whole configuration file of the user's, such as C(authentication-config);
        pointing them at a new file would silently drop everything the old one configured.
    type: list
    elements: str
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
        covers, add a C(hostPath) volume of type V(DirectoryOrCreate) for the file's directory, mounted at the same
        path, named after the directory (V(bulwark-etc-kubernetes-audit)).
      - The mounts are read-only, except for the flags the component writes to (C(audit-log-path), C(log-file),
        C(log-dir)).
    type: bool
    default: true
  annotations:
    description:
      - More annotations to set on the pod, as key to value; others are kept.
    type: dict
  files:
    description:
      - Configuration files the pod reads, written before the manifest and put back when the rollout fails.
      - A missing directory is created with mode V(0700).
    type: list
    elements: dict
    suboptions:
      path:
        description:
          - The absolute path of the file on the node.
        type: path
        required: true
      content:
        description:
          - The file's content. Shown in the diff.
          - Exactly one of O(files[].content) and O(files[].secret_content) is required.
        type: str
      secret_content:
        description:
          - The file's content, for a file that holds secrets. Never logged, never returned, and replaced by a marker
            in the diff.
        type: str
      mode:
        description:
          - The file's mode, in octal (V('0600')). Symbolic modes are not accepted.
        type: raw
        default: "0600"
      owner:
        description:
          - The file's owner. Defaults to the owner it has (V(root) for a new file).
        type: str
      group:
        description:
          - The file's group. Defaults to the group it has (V(root) for a new file).
        type: str
  encryption_config:
    description:
      - kube-apiserver's encryption at rest configuration (C(EncryptionConfiguration)), made and kept on the node as
        M(bulwark.hardening.kube_encryption_config) does, as one more file of O(files) - but a rollback leaves it as
        written, because the new pod may already have encrypted data with a new key.
      - O(encryption_config.provider) becomes the first provider of the group that covers
        O(encryption_config.resources), with a new key of 32 random bytes made on the node when there is none;
        older keys and C(identity) stay after it. The file is mode V(0600), root-owned; its keys are never returned
        or shown.
    type: dict
    suboptions:
      path:
        description:
          - The file, as named by C(--encryption-provider-config).
        type: path
        required: true
      provider:
        description:
          - The provider that encrypts.
        type: str
        choices: [secretbox, aescbc, aesgcm]
        default: secretbox
      resources:
        description:
          - The resources to encrypt.
        type: list
        elements: str
        default: [secrets]
      key_name:
        description:
          - The name of a key that is created. Defaults to C(bulwark-) and the UTC time.
        type: str
      secret:
        description:
          - The key to use when one is created (base64 of 32 random bytes), the same on every control-plane node.
            Without it, a key is made on the node.
        type: str
      keep_identity:
        description:
          - Keep C(identity) as the last provider, so that data written before encryption stays readable.
        type: bool
        default: true
  watch_files:
    description:
      - Other files the pod reads, written by another task, whose content is part of the digest of
        O(digest_annotation), so that a change to them restarts the pod too. Their content is never returned.
    type: list
    elements: path
  digest_annotation:
    description:
      - The pod annotation that holds a digest of the content of O(files) and O(watch_files). V("") leaves the pod
        without one (a change of a file alone then does not restart it).
    type: str
    default: bulwark.io/config-digest
  check_paths:
    description:
      - Fail before any change when a flag of O(set) names a file the pod reads (a single absolute path) that is
        neither on the node nor in O(files), such as a certificate that is not there. Flags whose files the
        component makes itself (C(audit-log-path), C(log-file), C(log-dir), C(data-dir), C(wal-dir), C(cert-dir))
        are not checked.
      - In check mode, the paths of O(watch_files) may be missing, since the task that makes them did not run.
    type: bool
    default: true
  validate_flags:
    description:
      - Run O(help_command) and fail, before anything changes, when a flag of O(set) is not in its output.
      - Runs when O(set) is given, in check mode too.
    type: bool
    default: true
  binary:
    description:
      - The component's program on this host, a path or a name looked up in E(PATH), used to run C(--help) and
        C(--version). Defaults to the first item of the container's C(command), such as V(kube-scheduler).
      - Kubeadm runs the component from its image, so that program is often not on the host; set O(binary) or
        O(help_command), or O(validate_flags=false).
    type: str
  help_command:
    description:
      - The command that prints the component's C(--help), as a list of arguments, for example one that runs the
        image with a container runtime. Defaults to O(binary) and V(--help).
      - When it ends with V(--help), the same command with V(--version) gives RV(version).
    type: list
    elements: str
  wait:
    description:
      - After a change of the manifest, wait at the gate and roll back when it fails. V(false) only writes.
    type: bool
    default: true
  process:
    description:
      - The program name of the pod's process, for the gate. Defaults to the base name of the first item of the
        container's C(command).
    type: str
  timeout:
    description:
      - Seconds to wait for the new pod to be healthy, and again for the previous one after a rollback.
    type: int
    default: 180
  stable_for:
    description:
      - Seconds the pod must keep passing, with the same process, to count as healthy. A pod that comes up and is
        then killed by its liveness probe fails this.
    type: int
    default: 5
  wait_for:
    description:
      - Other static pods that must be healthy (their probes passing for O(stable_for) seconds) after the change, in
        this order, for example the API server after a change of etcd. When one is not, the change is rolled back.
    type: list
    elements: dict
    suboptions:
      manifest:
        description:
          - The other pod's manifest, which holds its probes.
        type: path
        required: true
      container:
        description:
          - Its container, when it has several.
        type: str
  log_lines:
    description:
      - How many lines of the component's log to return when the rollout fails.
    type: int
    default: 20
  backup:
    description:
      - Keep a copy of the manifest and of every file replaced, with a timestamp in its name and mode V(0600), in
        O(backup_dir).
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
  - The manifest is written as YAML in the key order it had (kubeadm's); comments are not kept.
seealso:
  - module: bulwark.hardening.static_pod_wait
  - name: CIS Kubernetes Benchmark
    description: Sections 1.2 to 1.4 and 2 list the flags of kube-apiserver, kube-controller-manager, kube-scheduler and etcd.
    link: https://www.cisecurity.org/benchmark/kubernetes
"""

EXAMPLES = r"""
- name: Turn off the scheduler's profiling and bind it to loopback | CIS-K8s 1.4.1, 1.4.2
  bulwark.hardening.static_pod:
    path: /etc/kubernetes/manifests/kube-scheduler.yaml
    set:
      profiling: false
      bind-address: 127.0.0.1

- name: Turn on the audit log with its policy file; roll back when kube-apiserver does not come back
  bulwark.hardening.static_pod:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    container: kube-apiserver
    set:
      audit-policy-file: /etc/kubernetes/bulwark/audit-policy.yaml
      audit-log-path: /var/log/kubernetes/audit/audit.log
    files:
      - path: /etc/kubernetes/bulwark/audit-policy.yaml
        content: "{{ audit_policy | to_nice_yaml }}"
    timeout: 240

- name: Require client certificates of etcd's clients, and wait for the API server too | CIS-K8s 2.2
  bulwark.hardening.static_pod:
    path: /etc/kubernetes/manifests/etcd.yaml
    set:
      client-cert-auth: true
    wait_for:
      - manifest: /etc/kubernetes/manifests/kube-apiserver.yaml

- name: Audit only (check mode), showing what would change
  bulwark.hardening.static_pod:
    path: /etc/kubernetes/manifests/kube-controller-manager.yaml
    set:
      profiling: false
  check_mode: true
  diff: true
"""

RETURN = r"""
args:
  description:
    - The flags of the container after the task (in check mode, what they would be), C(command) after the program
      name, then C(args).
  returned: success
  type: list
  elements: str
  sample: ["--authentication-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=127.0.0.1"]
flags:
  description:
    - Every flag of the container after the task, as name (without C(--)) to value; V(null) is a flag without a value.
  returned: success
  type: dict
  sample: {"bind-address": "127.0.0.1", "profiling": "false"}
managed_flags:
  description:
    - The flags this task manages - those of O(set), O(remove) and O(remove_list_items) - for keeping kubeadm's
      C(ClusterConfiguration) in step (see P(bulwark.hardening.kubeadm_cluster_config#filter)).
  returned: success
  type: list
  elements: str
  sample: ["bind-address", "profiling"]
flags_added:
  description: Names of the flags that were (or would be) added.
  returned: success
  type: list
  elements: str
  sample: ["profiling"]
flags_changed:
  description: The flags whose value was (or would be) changed, with the values before and after.
  returned: success
  type: dict
  sample: {"bind-address": {"before": "0.0.0.0", "after": "127.0.0.1"}}
flags_removed:
  description: Names of the flags that were (or would be) removed.
  returned: success
  type: list
  elements: str
  sample: ["insecure-port"]
volumes_added:
  description: Names of the volumes that were (or would be) added, by O(volumes) and O(auto_mount).
  returned: success
  type: list
  elements: str
  sample: ["bulwark-var-log-kubernetes-audit"]
files_changed:
  description: The files of O(files) that were (or would be) written, or whose mode or owner changed.
  returned: success
  type: list
  elements: str
  sample: ["/etc/kubernetes/bulwark/audit-policy.yaml"]
item_status:
  description:
    - For each flag named in O(set), O(remove) and O(remove_list_items), V(ok) when it already was as asked and
      V(changed) when the task changed it (or would, in check mode). The compliance report reads it.
    - Each item of a list flag in O(set) or O(remove_list_items) has its own entry, keyed C(flag/item), because one
      flag often carries several controls.
    - With O(encryption_config), C(encryption-config) says whether that file was (or would be) changed.
    - Each of O(required_flags) is V(ok) (the module fails when one is missing).
    - In check mode, an item that is as asked in the manifest but not in the running process is V(stale) (see
      RV(live)).
  returned: success
  type: dict
  sample: {"profiling": "changed", "authorization-mode/RBAC": "ok"}
version:
  description: The first line of the component's C(--version), or V(null) when the flags were not validated.
  returned: success
  type: str
  sample: Kubernetes v1.37.2
restarted:
  description: Whether the manifest changed and the new pod passed the gate (V(false) in check mode).
  returned: success
  type: bool
pid:
  description: The process that runs the manifest.
  returned: when O(wait=true) and the process runs it
  type: int
waited:
  description:
    - Seconds from writing the manifest to a healthy pod (and healthy pods of O(wait_for)); the pod's downtime is at
      most this.
  returned: when the pod was restarted and O(wait=true)
  type: float
live:
  description:
    - When the manifest is already as asked and O(wait=true), whether the pod's running process runs it. In check
      mode, the items of RV(item_status) that the process does not run are V(stale); otherwise the module waits for
      kubelet to run the manifest and fails when it does not, since a flag only in a file is not in effect.
  returned: when O(wait=true), in check mode or when the manifest did not change
  type: bool
live_reason:
  description: Why the running process is not the manifest's, in check mode.
  returned: when RV(live=false)
  type: str
  sample: pid 812 runs other arguments (missing ['--profiling=false'], not in the manifest [])
gates:
  description: Each pod the rollout waited for, in order - the new pod, then those of O(wait_for) - with its process
    and the seconds it took to be healthy.
  returned: when the pod was restarted and O(wait=true)
  type: list
  elements: dict
  sample: [{"command": "etcd", "pid": 812, "waited": 6.1}, {"command": "kube-apiserver", "pid": 640, "waited": 5.5}]
backup_file:
  description: The copy of the manifest made before it was changed.
  returned: when O(backup=true) and the manifest was changed
  type: str
  sample: /var/backups/bulwark/static-pods/kube-scheduler.yaml.20261201T120000.123456Z
encryption:
  description: The encryption configuration's active provider, its key's name, the group's providers in order, and
    whether a key was (or would be) created. Never the key.
  returned: when O(encryption_config) is given
  type: dict
  sample: {"provider": "secretbox", "key_name": "bulwark-1", "providers": ["secretbox", "identity"], "created_key": false}
file_backups:
  description: The copies of the files of O(files) that were replaced, by path.
  returned: when O(backup=true) and a file was replaced
  type: dict
rolled_back:
  description: On failure, whether the previous manifest and files are back and the previous pod is healthy again.
  returned: failure after a change was written
  type: bool
log_tail:
  description:
    - On failure, the last lines of the component's two newest log files, oldest first, each after a line that
      names the file, CRI prefixes removed. The message quotes its error lines first.
  returned: failure at the gate
  type: list
  elements: str
"""

import base64
import dataclasses
import datetime
import os
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils._io import read_state, resolve_owner
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import KEY_BYTES
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import PROVIDERS as ENCRYPTION_PROVIDERS
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import (
    EncryptionConfigError,
    check_key,
    default_key_name,
    parse_encryption_config,
    render_encryption_config,
    secret_values,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import Plan as EncryptionPlan
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import plan as plan_encryption
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import http_probe_urls
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import (
    DEFAULT_LIST_FLAGS,
    DEFAULT_MAP_FLAGS,
    HAS_YAML,
    HOST_PATH_TYPES,
    YAML_IMPORT_ERROR,
    Plan,
    Request,
    StaticPodError,
    build_request,
    check_backup_dir,
    check_flags_known,
    container_program,
    input_paths,
    log_glob,
    manifest_for_diff,
    parse_help_flags,
    parse_manifest,
    parse_version,
    plan,
    process_flags,
    render_manifest,
    select_container,
    stale_items,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_io import NodeHost, running_pod
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_rollout import (
    FileChange,
    FileSpec,
    FileSpecError,
    GateRequest,
    RolloutFailed,
    RolloutPlan,
    build_files,
    config_digest,
    file_diffs,
    log_words,
    plan_files,
    roll_out,
)

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "path", "required": True},
    "container": {"type": "str"},
    "set": {"type": "dict"},
    "remove": {"type": "list", "elements": "str"},
    "list_flags": {"type": "list", "elements": "str", "default": list(DEFAULT_LIST_FLAGS)},
    "map_flags": {"type": "list", "elements": "str", "default": list(DEFAULT_MAP_FLAGS)},
    "replace_lists": {"type": "bool", "default": False},
    "remove_list_items": {"type": "dict"},
    "required_flags": {"type": "list", "elements": "str"},
    "conflicts": {"type": "list", "elements": "str"},
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
    "files": {
        "type": "list",
        "elements": "dict",
        "options": {
            "path": {"type": "path", "required": True},
            "content": {"type": "str"},
            "secret_content": {"type": "str", "no_log": True},
            "mode": {"type": "raw", "default": "0600"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
        },
        "mutually_exclusive": [("content", "secret_content")],
        "required_one_of": [("content", "secret_content")],
    },
    "encryption_config": {
        "type": "dict",
        "options": {
            "path": {"type": "path", "required": True},
            "provider": {"type": "str", "choices": list(ENCRYPTION_PROVIDERS), "default": "secretbox"},
            "resources": {"type": "list", "elements": "str", "default": ["secrets"]},
            "key_name": {"type": "str"},
            "secret": {"type": "str", "no_log": True},
            "keep_identity": {"type": "bool", "default": True},
        },
    },
    "watch_files": {"type": "list", "elements": "path"},
    "digest_annotation": {"type": "str", "default": "bulwark.io/config-digest"},
    "check_paths": {"type": "bool", "default": True},
    "validate_flags": {"type": "bool", "default": True},
    "binary": {"type": "str"},
    "help_command": {"type": "list", "elements": "str"},
    "wait": {"type": "bool", "default": True},
    "process": {"type": "str"},
    "timeout": {"type": "int", "default": 180},
    "stable_for": {"type": "int", "default": 5},
    "wait_for": {
        "type": "list",
        "elements": "dict",
        "options": {"manifest": {"type": "path", "required": True}, "container": {"type": "str"}},
    },
    "log_lines": {"type": "int", "default": 20},
    "backup": {"type": "bool", "default": True},
    "backup_dir": {"type": "path", "default": "/var/backups/bulwark/static-pods"},
}


def read_manifest(path: str) -> tuple[bytes, dict[str, t.Any]]:
    """The manifest's bytes and its pod; StaticPodError when it is missing or not a pod."""
    try:
        state = read_state(path)
    except OSError as exc:
        raise StaticPodError(f"cannot read {path}: {to_native(exc.strerror)}; nothing was changed.") from exc
    if not state.exists or state.content is None:
        raise StaticPodError(f"{path} does not exist; static_pod changes existing static pod manifests.")
    try:
        text = state.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StaticPodError(f"{path} is not valid UTF-8 (byte {exc.start}); nothing was changed.") from exc
    return state.content, parse_manifest(text, path)


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


def encryption_file(module: AnsibleModule, options: t.Mapping[str, t.Any]) -> tuple[FileSpec, EncryptionPlan]:
    """The encryption configuration as it must be: the node's file with the provider first, and a
    key made here when there is none. Every secret is masked in any output."""
    path = options["path"]
    state = read_state(path)
    current = None
    if state.exists and state.content is not None:
        current = parse_encryption_config(state.content.decode("utf-8", "surrogateescape"), path)
    module.no_log_values.update(secret_values(current))
    if options["secret"]:
        check_key({"name": "secret", "secret": options["secret"]}, "encryption_config.secret", options["provider"])

    def new_secret() -> str:
        secret = options["secret"] or base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")
        module.no_log_values.add(secret)
        return str(secret)

    key_name = options["key_name"] or default_key_name(datetime.datetime.now(datetime.timezone.utc))
    result = plan_encryption(
        current, options["provider"], options["resources"], new_secret, key_name=key_name,
        keep_identity=options["keep_identity"],
    )  # fmt: skip
    content = render_encryption_config(result.after).encode("utf-8") if result.changed else (state.content or b"")
    return FileSpec(path, content, 0o600, 0, 0, secret=True, keep_on_rollback=True), result


def gate_for(
    module: AnsibleModule,
    pod: dict[str, t.Any],
    manifest: str,
    container: str | None,
    args: list[str] | None = None,
    new: bool = False,
    process: str | None = None,
) -> GateRequest:
    """What healthy means for CONTAINER of POD: its process (running ARGS, and started after the
    manifest was written when NEW), and its probes as kubelet runs them."""
    chosen = select_container(pod, container, manifest)
    command = process or container_program(chosen)
    if not command:
        raise StaticPodError(
            f"process: container '{chosen['name']}' in {manifest} has no command, so the gate cannot tell its"
            " process; set process to the program's name, or wait to false. Nothing was changed."
        )
    try:
        urls = http_probe_urls(pod, chosen["name"])
    except ValueError as exc:
        raise StaticPodError(f"{manifest}: {exc}; nothing was changed.") from None
    return GateRequest(
        command=command,
        manifest=manifest,
        args=None if args is None else tuple(args),
        newer_than_manifest=new,
        probe_urls=tuple(urls),
        log_glob=log_glob(pod, chosen["name"]),
        timeout=module.params["timeout"],
        stable_for=module.params["stable_for"],
    )


def gates_of(module: AnsibleModule, result: Plan) -> tuple[list[GateRequest], list[GateRequest]]:
    """The gates after the change (the new pod, then the pods of wait_for, whatever their arguments
    or age) and after a rollback (the previous pod, then the same)."""
    params = module.params
    dependents = []
    for entry in params["wait_for"] or ():
        _data, other = read_manifest(entry["manifest"])
        dependents.append(gate_for(module, other, entry["manifest"], entry["container"]))
    path, process = params["path"], params["process"]
    new = gate_for(module, result.after, path, result.container, result.args, True, process)
    old = gate_for(module, result.before, path, result.container, result.before_args, False, process)
    return [new, *dependents], [old, *dependents]


def check_live(module: AnsibleModule, result: Plan, request: Request, output: dict[str, t.Any]) -> None:
    """The manifest is as asked: is it also what runs? In check mode, the items that the running
    process lacks are ``stale`` (not in effect); otherwise wait for kubelet to run the manifest, and
    fail when it does not, since a control only in a file is not in effect."""
    path = module.params["path"]
    try:
        gate = gate_for(module, result.after, path, result.container, result.args, False, module.params["process"])
    except StaticPodError as exc:
        module.fail_json(msg=str(exc), **output)
    process, reason = running_pod(gate)
    output["live"] = reason is None
    if reason is None:
        output["pid"] = t.cast(t.Any, process).pid
        return
    if module.check_mode:
        output["live_reason"] = reason
        live = process_flags(process.argv, request.list_flags) if process else {}
        output["item_status"].update(stale_items(request, result, live))
        return
    waited = NodeHost(module.params["backup_dir"], module.params["log_lines"]).wait(gate)
    if not waited.ready:
        module.fail_json(
            msg=f"{gate.command} does not run its manifest {path}, which is as asked: {waited.reason}."
            " Nothing was changed; kubelet runs the manifest, so look at kubelet and the pod's log." + log_words(waited),
            log_tail=list(waited.log_tail),
            **{**output, "live": False},
        )
    output.update(live=True, pid=waited.pid)


@dataclasses.dataclass
class Change:
    """Everything planned, before anything is written."""

    request: Request
    result: Plan
    changes: list[FileChange]
    before: bytes
    after: bytes | None  # None: the manifest stays as it is
    version: str | None
    encryption: EncryptionPlan | None
    gates: list[GateRequest]
    rollback_gates: list[GateRequest]

    @property
    def changed(self) -> bool:
        return self.result.changed or any(change.changed for change in self.changes)


def check_input_paths(module: AnsibleModule, request: Request, files: list[FileSpec], watched: t.Collection[str]) -> None:
    """Fail when a flag names a file the pod reads that is not on the node (a missing certificate)."""
    may_be_missing = set(watched) if module.check_mode else set()  # another task makes them, which did not run
    missing = [
        f"set.{flag}: {name}"
        for flag, name in input_paths(request, [spec.path for spec in files])
        if name not in may_be_missing and not os.path.exists(name)
    ]
    if missing:
        raise StaticPodError(
            f"{'; '.join(missing)} does not exist on this node, and the pod would fail without it. Make it first, or"
            " set check_paths to false. Nothing was changed."
        )


def plan_change(module: AnsibleModule) -> Change:
    """Read the node and plan the whole change; raises on any bad input, having written nothing."""
    params = module.params
    path: str = params["path"]
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
        params["required_flags"],
        params["map_flags"],
    )
    files = build_files(params["files"] or (), resolve_owner)
    encryption = None
    if params["encryption_config"]:
        encryption_spec, encryption = encryption_file(module, params["encryption_config"])  # I/O, then pure
        if any(spec.path == encryption_spec.path for spec in files):
            raise FileSpecError(f"encryption_config.path: {encryption_spec.path} is in files too; give it once.")
        files.append(encryption_spec)
    if params["backup"]:
        manifest_dirs = {os.path.dirname(os.path.abspath(path)), os.path.dirname(os.path.realpath(path))}
        check_backup_dir(os.path.realpath(params["backup_dir"]), manifest_dirs)
    before, pod = read_manifest(path)  # I/O
    changes = plan_files(files, {spec.path: read_state(spec.path) for spec in files})  # I/O, then pure
    watched = {name: read_state(name).content for name in params["watch_files"] or ()}
    if params["digest_annotation"] and (files or watched):
        digest = {params["digest_annotation"]: config_digest(files, watched)}
        request = dataclasses.replace(request, annotations={**request.annotations, **digest})
    version = None
    if params["validate_flags"] and request.set:
        version = validate_flags(module, select_container(pod, params["container"], path), request)  # I/O
    result = plan(pod, request, params["container"], path)  # pure
    if params["check_paths"]:
        check_input_paths(module, request, files, watched)
    after = render_manifest(result.after).encode("utf-8") if result.changed else None
    gates, rollback_gates = gates_of(module, result) if params["wait"] and after else ([], [])
    return Change(request, result, changes, before, after, version, encryption, gates, rollback_gates)


def report(module: AnsibleModule, change: Change) -> dict[str, t.Any]:
    """The result of the plan: flags, files, item status and diff."""
    path, result = module.params["path"], change.result
    request = change.request
    output: dict[str, t.Any] = {
        "changed": change.changed,
        "args": result.args,
        "flags": result.flags,
        "managed_flags": list(dict.fromkeys([*request.set, *request.remove, *request.remove_list_items])),
        "flags_added": result.flags_added,
        "flags_changed": result.flags_changed,
        "flags_removed": result.flags_removed,
        "volumes_added": result.volumes_added,
        "files_changed": [item.spec.path for item in change.changes if item.changed],
        "item_status": dict(result.item_status),
        "version": change.version,
        "restarted": False,
    }
    if change.encryption is not None:
        encryption = change.encryption
        output["encryption"] = {
            "provider": encryption.provider,
            "key_name": encryption.key_name,
            "providers": list(encryption.providers),
            "created_key": encryption.created_key,
        }
        key_file = module.params["encryption_config"]["path"]
        output["item_status"]["encryption-config"] = "changed" if key_file in output["files_changed"] else "ok"
    if module._diff:
        # Both sides rendered the same way, env values masked: the diff shows what changes, never a token.
        manifest = {"before_header": path, "after_header": path}
        manifest["before"] = manifest_for_diff(change.before.decode("utf-8"), path)
        manifest["after"] = manifest_for_diff((change.after or change.before).decode("utf-8"), path)
        output["diff"] = file_diffs(change.changes) + [manifest]
    return output


def apply(module: AnsibleModule, change: Change, output: dict[str, t.Any]) -> None:
    """Write the change and roll it out; on failure, fail with what the rollback left."""
    params = module.params
    path = params["path"]
    rollout = RolloutPlan(
        manifest=path,
        before=change.before,
        after=change.after,
        files=tuple(change.changes),
        gates=tuple(change.gates),
        rollback_gates=tuple(change.rollback_gates),
        backup=params["backup"],
    )
    try:
        outcome = roll_out(NodeHost(params["backup_dir"], params["log_lines"]), rollout)  # I/O
    except RolloutFailed as exc:
        failure: dict[str, t.Any] = {"rolled_back": exc.restored}
        if exc.failed is not None:
            failure["log_tail"] = list(exc.failed.log_tail)
        module.fail_json(msg=exc.msg, **output, **failure)
    if path in outcome.backups:
        output["backup_file"] = outcome.backups[path]
    others = {name: copy for name, copy in outcome.backups.items() if name != path}
    if others:
        output["file_backups"] = others
    if outcome.gates:
        output.update(
            restarted=True,
            pid=outcome.gates[0].pid,
            waited=round(sum(passed.waited for passed in outcome.gates), 2),
            gates=[
                {"command": gate.command, "pid": passed.pid, "waited": passed.waited}
                for gate, passed in zip(change.gates, outcome.gates)
            ],
        )


def main() -> None:
    module = strict_module(ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    try:
        change = plan_change(module)
    except (StaticPodError, FileSpecError, EncryptionConfigError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(
            msg=f"cannot read {exc.filename or module.params['path']}: {to_native(exc.strerror)}; nothing was changed."
        )
    output = report(module, change)
    if module.params["wait"] and (change.after is None or module.check_mode):
        check_live(module, change.result, change.request, output)
    if change.changed and not module.check_mode:
        apply(module, change, output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
