# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils._yaml import YamlError, load_yaml
from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import (
    EncryptionConfigError,
    parse_encryption_config,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import StaticPodError, parse_manifest

MANIFEST_WITH_TWO_COMMANDS = """\
apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    command:
    - kube-apiserver
    - --authorization-mode=Node,RBAC
    image: registry.k8s.io/kube-apiserver:v1.37.2
    command: [kube-apiserver]
"""

TWO_SECRETS = """\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: c2VjcmV0LW9uZQ==
        secret: c2VjcmV0LXR3bw==
  - identity: {}
"""


def test_a_second_command_in_a_manifest_is_refused_with_both_lines() -> None:
    with pytest.raises(StaticPodError) as exc:
        parse_manifest(MANIFEST_WITH_TWO_COMMANDS, "/etc/kubernetes/manifests/kube-apiserver.yaml")
    message = str(exc.value)
    assert message.startswith("/etc/kubernetes/manifests/kube-apiserver.yaml is not valid YAML (line 11, column 5:")
    assert "the key 'command' is also on line 7; keep one" in message
    assert message.endswith("nothing was changed.")


def test_a_second_secret_in_an_encryption_config_is_refused_without_showing_either() -> None:
    with pytest.raises(EncryptionConfigError) as exc:
        parse_encryption_config(TWO_SECRETS, "/etc/kubernetes/enc/config.yaml")
    assert "the key 'secret' is also on line 9; keep one" in str(exc.value)
    assert "c2VjcmV0" not in str(exc.value)


@pytest.mark.parametrize("text", ["{a: 1, a: 2}", "a: 1\nb: {c: 1}\na: 2\n"])
def test_duplicate_keys_in_any_mapping(text: str) -> None:
    with pytest.raises(YamlError, match="the key 'a' is also on line"):
        load_yaml(text, "x.yaml")


def test_merge_keys_may_repeat_what_they_merge() -> None:
    assert load_yaml("base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  a: 3\n", "x.yaml")["derived"] == {"a": 3, "b": 2}


def test_yaml_nested_past_the_parser_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlError, match="x.yaml is (nested too deeply to be read|not valid YAML)"):
        load_yaml("[" * 100_000, "x.yaml")
