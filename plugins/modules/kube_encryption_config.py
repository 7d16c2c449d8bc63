#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_encryption_config
short_description: Manage the kube-apiserver encryption at rest configuration file
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Manages the C(EncryptionConfiguration) file (C(apiserver.config.k8s.io/v1)) that kube-apiserver reads with
    C(--encryption-provider-config), so that the resources in O(resources) are encrypted in etcd by O(provider).
  - The group of the file that covers O(resources) gets O(provider) as its first provider, the one that encrypts.
    When that is already so, nothing changes; the module never rotates or rewrites keys. When the group has a
    O(provider) entry further down, that entry is moved first. Otherwise a new key of 32 random bytes
    (C(os.urandom)) named O(key_name) is created.
  - Every other provider of the group, with all its keys, stays after the first one, because kube-apiserver needs
    them to read what was written with them. With O(keep_identity=true), C(identity) is kept (or added) as the last
    provider, so that what was stored before encryption stays readable.
  - A group covers a resource when it lists it. When only a wildcard group (C(*.) or C(*.*)) covers the resources
    and its first provider is not O(provider), the resources get a group of their own, placed before the wildcard
    group, with the wildcard group's providers after the new one. When no group covers them, a new group is added
    first. Other groups of the file are kept as they are.
  - The key material never leaves the host. It is not returned, and the diff shows every C(secret) as
    C(<redacted>).
  - An existing file that is not valid YAML, not an C(EncryptionConfiguration), or that has a key kube-apiserver
    would refuse (not base64, or not 32 bytes for C(secretbox), not 16, 24 or 32 bytes for C(aescbc) and
    C(aesgcm)) is never rewritten; the module fails and says where the problem is, naming the key but not its
    secret.
  - The file is replaced atomically and gets O(mode), O(owner) and O(group); a missing directory is created with
    mode V(0700). The file is written as YAML with a header comment. Comments in an existing file are lost when it
    is rewritten; formatting alone is never a change.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads and checks the file and reports what would change, including whether a key would be created, but writes
        nothing. A key made in check mode is never stored.
  diff_mode:
    support: full
    details:
      - The whole file before and after, with every C(secret) replaced by C(<redacted>).
  idempotent:
    support: full
options:
  path:
    description:
      - The encryption configuration file, as given to kube-apiserver's C(--encryption-provider-config).
    type: path
    required: true
  provider:
    description:
      - The provider that encrypts O(resources).
      - V(secretbox) (XSalsa20 and Poly1305) needs no rotation schedule and is the default. V(aescbc) is weak
        against padding oracle attacks and not recommended by Kubernetes. V(aesgcm) keys must be rotated every
        200,000 writes, which this module does not do.
    type: str
    choices: [secretbox, aescbc, aesgcm]
    default: secretbox
  resources:
    description:
      - The resources to encrypt, as kube-apiserver names them (V(secrets), V(configmaps), V(deployments.apps),
        V(*.) for all resources of the core group).
      - They must be in one group of the file, or in none; otherwise the module fails.
    type: list
    elements: str
    default: [secrets]
  key_name:
    description:
      - The name of a key that the module creates. Used only when a key is created; RV(key_name) tells the name of
        the key that encrypts.
      - Defaults to C(bulwark-) and the UTC time, for example V(bulwark-20250131120000).
    type: str
  secret:
    description:
      - The key to use when the module creates one, as base64 of 32 random bytes (C(head -c 32 /dev/urandom | base64)).
      - Every API server of a cluster must have the same key, or none can read what another encrypted; give the same
        value (from Ansible Vault) to every control-plane node. Without it, the module makes a key with
        C(os.urandom), which suits a single control-plane node.
      - Used only when a key is created; a file that already encrypts with O(provider) keeps its key.
    type: str
  keep_identity:
    description:
      - Keep C(identity) as the last provider of the group (added when missing), so that data written before
        encryption can still be read.
      - V(false) removes C(identity) from the group. Do that only after every object of O(resources) has been
        rewritten encrypted (C(kubectl get secrets -A -o json | kubectl replace -f -)); kube-apiserver can no
        longer read the ones that are still stored in plain text.
    type: bool
    default: true
  mode:
    description:
      - The mode of the file. The file holds keys, so keep it readable by root only.
    type: raw
    default: "0600"
  owner:
    description:
      - The owner of the file.
    type: str
    default: root
  group:
    description:
      - The group of the file.
    type: str
    default: root
  backup:
    description:
      - Keep a copy of the file, with a timestamp in its name, next to it before it is changed. The copy holds the
        same keys and gets the same mode.
    type: bool
    default: true
notes:
  - kube-apiserver reads the file when it starts, unless it runs with C(--encryption-provider-config-automatic-reload).
    Restart it when the task reports a change. A new key encrypts what is written from then on; rewrite existing
    objects to encrypt them (C(kubectl get secrets -A -o json | kubectl replace -f -)).
  - Every kube-apiserver of a cluster needs the same file. The module creates a key on each host that has none, so
    with several control-plane nodes run it on one and copy the file to the others (with C(no_log)), or create the
    file on all of them from the same keys.
  - Requires PyYAML on the target.
requirements:
  - PyYAML
seealso:
  - name: Encrypting confidential data at rest
    description: The Kubernetes documentation of the EncryptionConfiguration file and its providers.
    link: https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/
"""

EXAMPLES = r"""
- name: Encrypt Secrets at rest with secretbox
  bulwark.hardening.kube_encryption_config:
    path: /etc/kubernetes/bulwark/encryption-config.yaml
  register: __kube_apiserver_encryption

- name: Encrypt Secrets and ConfigMaps with AES-CBC, under a key name of our own
  bulwark.hardening.kube_encryption_config:
    path: /etc/kubernetes/bulwark/encryption-config.yaml
    provider: aescbc
    resources:
      - secrets
      - configmaps
    key_name: key-2025

- name: Audit only (check mode), showing the redacted file
  bulwark.hardening.kube_encryption_config:
    path: /etc/kubernetes/bulwark/encryption-config.yaml
  check_mode: true
  diff: true
"""

RETURN = r"""
provider:
  description: The provider that encrypts O(resources) after the task (in check mode, that would).
  returned: success
  type: str
  sample: secretbox
key_name:
  description: The name of the key that encrypts O(resources), the first key of RV(provider).
  returned: success
  type: str
  sample: bulwark-20250131120000
providers:
  description: The provider types of the group that covers O(resources), in order.
  returned: success
  type: list
  elements: str
  sample: [secretbox, aescbc, identity]
created_key:
  description: Whether a new key was (in check mode, would be) created.
  returned: success
  type: bool
  sample: true
backup_file:
  description: The copy of the file made before it was changed.
  returned: when O(backup=true), the file existed and its content was changed
  type: str
  sample: /etc/kubernetes/bulwark/encryption-config.yaml.12345.2025-01-31@12:00:00~
diff:
  description: The file before and after as YAML text, with every secret replaced by C(<redacted>).
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The file as it was; empty when there was none.
      type: str
      sample: ""
    after:
      description: The file as it is (or would be) after the task.
      type: str
      sample: "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n..."
"""

import base64
import datetime
import os
import tempfile
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.bulwark.hardening.plugins.module_utils._io import group_exists, user_exists
from ansible_collections.bulwark.hardening.plugins.module_utils.file_args import file_arg_problems
from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import (
    HAS_YAML,
    KEY_BYTES,
    PROVIDERS,
    YAML_IMPORT_ERROR,
    EncryptionConfigError,
    check_key,
    default_key_name,
    parse_encryption_config,
    plan,
    render_encryption_config,
    secret_values,
)

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "path", "required": True},
    "provider": {"type": "str", "choices": list(PROVIDERS), "default": "secretbox"},
    "resources": {"type": "list", "elements": "str", "default": ["secrets"]},
    "key_name": {"type": "str", "no_log": False},
    "secret": {"type": "str", "no_log": True},
    "keep_identity": {"type": "bool", "default": True},
    "mode": {"type": "raw", "default": "0600"},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "backup": {"type": "bool", "default": True},
}


def read_current(path: str) -> tuple[dict[str, t.Any] | None, bool]:
    """The parsed file (None when missing or empty) and whether it exists."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None, False
    except OSError as exc:
        raise EncryptionConfigError(f"cannot read {path}: {to_native(exc.strerror)}; nothing was changed.") from exc
    return parse_encryption_config(to_text(data, errors="surrogate_or_strict"), path), True


def write(module: AnsibleModule, content: str, path: str, existed: bool) -> str | None:
    """Replace ``path`` atomically; returns the backup file, if one was made."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)  # it holds keys
    # mkstemp creates the file 0600, so the new key is never readable by others, not even briefly.
    fd, tmp = tempfile.mkstemp(prefix=".encryption-config.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(content))
        backup_file = module.backup_local(path) if existed and module.params["backup"] else None
        # atomic_move gives a new file the mode 0666 minus the umask after the rename; with
        # umask 077 that is 0600, so there is no moment where the keys are world-readable.
        umask = os.umask(0o077)
        try:
            module.atomic_move(tmp, path)
        finally:
            os.umask(umask)
        return backup_file or None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main() -> None:
    module = strict_module(ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    # Owner, group and mode are applied after the write: checked now, so a bad one changes nothing.
    problems = file_arg_problems(module.params, user_exists, group_exists)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.")
    path: str = module.params["path"]
    file_args = module.load_file_common_arguments(module.params, path=path)

    def new_secret() -> str:
        secret = module.params["secret"] or base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")
        module.no_log_values.add(secret)  # masked in any output, should it ever get there
        return secret

    try:
        if module.params["secret"]:
            check_key({"name": "secret", "secret": module.params["secret"]}, "secret", module.params["provider"])
        current, existed = read_current(path)  # I/O
        module.no_log_values.update(secret_values(current))
        key_name = module.params["key_name"] or default_key_name(datetime.datetime.now(datetime.timezone.utc))
        result = plan(  # pure
            current,
            module.params["provider"],
            module.params["resources"],
            new_secret,
            key_name=key_name,
            keep_identity=module.params["keep_identity"],
        )
        changed = result.changed
        backup_file = None
        # Owner and mode first: an existing file that others can read is closed before a new
        # key lands in it (atomic_move copies the old file's attributes to the new one).
        if existed:
            changed = module.set_fs_attributes_if_different(file_args, changed)
        if result.changed and not module.check_mode:
            backup_file = write(module, render_encryption_config(result.after), path, existed)  # I/O
        if not existed and not module.check_mode:
            changed = module.set_fs_attributes_if_different(file_args, changed)
    except EncryptionConfigError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(
            msg=f"cannot write {path}: {to_native(exc)}; it was not changed.", exception=traceback.format_exc()
        )

    output: dict[str, t.Any] = {
        "changed": changed,
        "provider": result.provider,
        "key_name": result.key_name,
        "providers": list(result.providers),
        "created_key": result.created_key,
    }
    if backup_file:
        output["backup_file"] = backup_file
    if module._diff:
        output["diff"] = dict(result.diff(), before_header=path, after_header=path)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
