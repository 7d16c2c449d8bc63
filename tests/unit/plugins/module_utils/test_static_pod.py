# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import re
import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import (
    Plan,
    StaticPodError,
    build_request,
    manifest_for_diff,
    check_backup_dir,
    check_flags_known,
    container_program,
    input_paths,
    log_glob,
    parse_help_flags,
    parse_manifest,
    parse_version,
    plan,
    render_manifest,
    select_container,
    volume_name,
)
from ansible_collections.bulwark.hardening.tests.unit.plugins.kube_apiserver_fixtures import HELP, KUBE_APISERVER

PATH = "/etc/kubernetes/manifests/kube-apiserver.yaml"


def pod() -> dict[str, t.Any]:
    return parse_manifest(KUBE_APISERVER, PATH)


def run(manifest: dict[str, t.Any] | None = None, container: str | None = None, **options: t.Any) -> Plan:
    if "set" in options:
        options["set_"] = options.pop("set")
    return plan(manifest if manifest is not None else pod(), build_request(**options), container, PATH)


def command(result: Plan) -> list[str]:
    return t.cast("list[str]", result.after["spec"]["containers"][0]["command"])


def with_command(*flags: str, args: list[str] | None = None) -> dict[str, t.Any]:
    manifest = pod()
    container = manifest["spec"]["containers"][0]
    container["command"] = ["kube-apiserver", *flags]
    if args is not None:
        container["args"] = args
    return manifest


# --- manifest --------------------------------------------------------------------------------------


def test_kubeadm_manifest_renders_as_kubeadm_wrote_it() -> None:
    assert render_manifest(pod()) == KUBE_APISERVER


def test_long_values_are_not_folded() -> None:
    manifest = with_command("--tls-cipher-suites=" + ", ".join(["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] * 5))
    assert "    - --tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS" in render_manifest(manifest)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n   image: b\n",
            f"{PATH} is not valid YAML (line 6, column 4: expected <block end>, but found '<block mapping start>');"
            " nothing was changed.",
        ),
        (
            "kind: Pod\nspec: [\n",
            f"{PATH} is not valid YAML (line 3, column 1: expected the node content, but found '<stream end>');"
            " nothing was changed.",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nspec: {}\n",
            f"{PATH} is not a static pod manifest: kind is 'Deployment', not 'Pod'; nothing was changed.",
        ),
        ("- kind: Pod\n", f"{PATH} is not a Kubernetes object (the top level is a list); nothing was changed."),
        ("# nothing\n", f"{PATH} is empty; nothing was changed."),
        (
            "kind: Pod\nspec:\n  containers: []\n",
            f"{PATH} has no list of named containers in spec.containers; nothing was changed.",
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - image: x\n",
            f"{PATH} has no list of named containers in spec.containers; nothing was changed.",
        ),
    ],
)
def test_bad_manifest(text: str, message: str) -> None:
    with pytest.raises(StaticPodError) as exc:
        parse_manifest(text, PATH)
    assert str(exc.value) == message


SIDECAR = """\
kind: Pod
spec:
  containers:
  - name: main
    command: [main, --a=1]
  - name: sidecar
    args: [--b=2]
"""


def test_select_container() -> None:
    manifest = parse_manifest(SIDECAR, PATH)
    assert select_container(manifest, "sidecar", PATH)["args"] == ["--b=2"]
    with pytest.raises(StaticPodError) as exc:
        select_container(manifest, None, PATH)
    assert str(exc.value) == (
        f"container: the pod in {PATH} has several containers (main, sidecar); name the one to edit."
    )
    with pytest.raises(StaticPodError) as exc:
        select_container(manifest, "etcd", PATH)
    assert str(exc.value) == f"container: the pod in {PATH} has no container 'etcd'; it has: main, sidecar."
    assert select_container(pod(), None, PATH)["name"] == "kube-apiserver"


def test_edit_the_named_container_of_several() -> None:
    result = run(parse_manifest(SIDECAR, PATH), "sidecar", set={"c": 3}, auto_mount=False)
    assert result.after["spec"]["containers"][1]["args"] == ["--b=2", "--c=3"]
    assert result.after["spec"]["containers"][0] == {"name": "main", "command": ["main", "--a=1"]}
    assert (result.container, result.args) == ("sidecar", ["--b=2", "--c=3"])


# --- request -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, "false"),
        (True, "true"),
        (30, "30"),
        (0.5, "0.5"),
        ("Node,RBAC", "Node,RBAC"),
        (["Node", "RBAC"], "Node,RBAC"),
        ([True, 1, "x"], "true,1,x"),
        (None, None),
        ("", ""),
    ],
)
def test_values(value: t.Any, expected: str | None) -> None:
    assert build_request(set_={"x": value}).set == {"x": expected}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"set_": {"--anonymous-auth": False}},
            "set: give flag names without dashes, 'anonymous-auth' instead of '--anonymous-auth'.",
        ),
        ({"set_": {"a=b": 1}}, "set: 'a=b' is not a flag name; give the value separately, without '='."),
        ({"remove": ["a b"]}, "remove: 'a b' is not a flag name (letters, digits, '-', '_' and '.')."),
        (
            {"set_": {"x": {"a": 1}}},
            "set.x: a dict is not a flag value; give a string, number, bool, list, or null for a flag without a value.",
        ),
        ({"set_": {"x": [[1]]}}, "set.x[0]: a list is not allowed here; give a string, number or bool."),
        ({"set_": {"a": 1, "b": 2}, "remove": ["b", "a"]}, "set and remove: a, b cannot be both set and removed."),
        (
            {"remove_list_items": {"a": ["x"]}, "remove": ["a"]},
            "remove_list_items and remove: a cannot be both edited and removed.",
        ),
        (
            {"set_": {"a": ["x", "y"]}, "remove_list_items": {"a": "y"}},
            "set.a and remove_list_items.a: y cannot be both added and removed.",
        ),
        ({"remove_list_items": {"a": 1}}, "remove_list_items.a: expected a list of items, got int."),
        (
            {"volumes": [{"name": "Audit_Log", "host_path": "/var/log"}]},
            "volumes[0].name: 'Audit_Log' is not a valid volume name; use at most 63 lower-case letters, digits and"
            " '-', starting and ending with a letter or digit.",
        ),
        (
            {"volumes": [{"name": "a", "host_path": "var/log"}]},
            "volumes[0].host_path: 'var/log' is not an absolute path.",
        ),
        (
            {"volumes": [{"name": "a", "host_path": "/a", "type": "Dir"}]},
            "volumes[0].type: 'Dir' is not a hostPath type; use one of 'DirectoryOrCreate', 'Directory',"
            " 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice', ''.",
        ),
        (
            {"volumes": [{"name": "a", "host_path": "/a"}, {"name": "b", "host_path": "/b", "mount_path": "/a/"}]},
            "volumes[1].mount_path: /a is given twice.",
        ),
    ],
)
def test_bad_request(options: dict[str, t.Any], message: str) -> None:
    with pytest.raises(StaticPodError) as exc:
        build_request(**options)
    assert str(exc.value) == message


# --- flags -------------------------------------------------------------------------------------------


def test_set_new_flag_in_sorted_position() -> None:
    result = run(set={"anonymous-auth": False, "profiling": False})
    flags = command(result)
    assert flags[:4] == [
        "kube-apiserver",
        "--advertise-address=172.18.0.2",
        "--allow-privileged=true",
        "--anonymous-auth=false",
    ]
    assert (
        flags.index("--profiling=false")
        == flags.index("--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname") + 1
    )
    assert flags[1:] == sorted(flags[1:])
    assert (result.changed, result.flags_added, result.flags_changed, result.flags_removed) == (
        True,
        ["anonymous-auth", "profiling"],
        {},
        [],
    )
    assert result.args == flags[1:]
    # Nothing else of the pod changed.
    after = copy.deepcopy(result.after)
    after["spec"]["containers"][0]["command"] = pod()["spec"]["containers"][0]["command"]
    assert after == pod()


def test_new_flags_are_appended_when_the_flags_are_not_sorted() -> None:
    result = run(with_command("--secure-port=6443", "--advertise-address=1.2.3.4"), set={"b": 1, "a": 2})
    assert command(result) == ["kube-apiserver", "--secure-port=6443", "--advertise-address=1.2.3.4", "--b=1", "--a=2"]


def test_change_flag_in_place() -> None:
    result = run(set={"secure-port": 8443, "authorization-mode": ["Node", "RBAC"]})
    flags = command(result)
    assert flags[flags.index("--secure-port=8443") - 1] == "--requestheader-username-headers=X-Remote-User"
    assert "--secure-port=6443" not in flags
    assert result.flags_changed == {"secure-port": {"before": "6443", "after": "8443"}}
    assert result.flags_added == [] and result.flags_removed == []


def test_remove() -> None:
    result = run(remove=["enable-bootstrap-token-auth", "insecure-port"])
    assert "--enable-bootstrap-token-auth=true" not in command(result)
    assert len(command(result)) == len(command(run())) - 1
    assert (result.changed, result.flags_removed, result.flags_added) == (True, ["enable-bootstrap-token-auth"], [])


def test_remove_of_missing_flag_is_no_change() -> None:
    result = run(remove=["insecure-port"])
    assert (result.changed, result.flags_removed, result.after) == (False, [], pod())


def test_list_merge_keeps_existing_items_and_order() -> None:
    manifest = with_command("--enable-admission-plugins=PodSecurity,NodeRestriction", "--tls-cipher-suites=B, A")
    result = run(
        manifest,
        set={
            "enable-admission-plugins": ["NodeRestriction", "EventRateLimit", "AlwaysPullImages"],
            "tls-cipher-suites": "A,C",
        },
        auto_mount=False,
    )
    assert command(result)[1:] == [
        "--enable-admission-plugins=PodSecurity,NodeRestriction,EventRateLimit,AlwaysPullImages",
        "--tls-cipher-suites=B,A,C",
    ]
    assert result.flags_changed["enable-admission-plugins"] == {
        "before": "PodSecurity,NodeRestriction",
        "after": "PodSecurity,NodeRestriction,EventRateLimit,AlwaysPullImages",
    }
    # Items that are all there already: nothing changes, not even the blank in "B, A".
    again = run(manifest, set={"enable-admission-plugins": ["NodeRestriction"], "tls-cipher-suites": ["A", "B"]})
    assert (again.changed, again.flags_changed) == (False, {})


def test_list_flag_that_is_new() -> None:
    result = run(set={"disable-admission-plugins": ["AlwaysAdmit", " ", "AlwaysDeny"]})
    assert "--disable-admission-plugins=AlwaysAdmit,AlwaysDeny" in command(result)


def test_replace_lists() -> None:
    result = run(set={"authorization-mode": ["RBAC", "Node"]}, replace_lists=True)
    assert "--authorization-mode=RBAC,Node" in command(result)
    assert result.flags_changed == {"authorization-mode": {"before": "Node,RBAC", "after": "RBAC,Node"}}
    same = run(
        with_command("--authorization-mode=Node, RBAC"), set={"authorization-mode": "Node,RBAC"}, replace_lists=True
    )
    assert same.changed is False


def test_list_flags_option() -> None:
    manifest = with_command("--admission-control=A")
    assert command(run(manifest, set={"admission-control": "B"}))[1:] == ["--admission-control=B"]
    merged = run(manifest, set={"admission-control": "B"}, list_flags=["admission-control"])
    assert command(merged)[1:] == ["--admission-control=A,B"]


def test_remove_list_items() -> None:
    manifest = with_command(
        "--enable-admission-plugins=AlwaysAdmit,NodeRestriction", "--disable-admission-plugins=AlwaysAdmit"
    )
    result = run(
        manifest,
        set={"enable-admission-plugins": ["PodSecurity"]},
        remove_list_items={
            "enable-admission-plugins": ["AlwaysAdmit"],
            "disable-admission-plugins": "AlwaysAdmit",
            "authorization-mode": ["AlwaysAllow"],
        },
    )
    assert command(result)[1:] == ["--enable-admission-plugins=NodeRestriction,PodSecurity"]
    assert result.flags_removed == ["disable-admission-plugins"]  # no item left
    assert result.flags_changed == {
        "enable-admission-plugins": {"before": "AlwaysAdmit,NodeRestriction", "after": "NodeRestriction,PodSecurity"}
    }
    again = run(result.after, remove_list_items={"enable-admission-plugins": ["AlwaysAdmit"]})
    assert again.changed is False


def test_bare_flag() -> None:
    result = run(with_command("--a=1", "--c=3"), set={"b": None})
    assert command(result)[1:] == ["--a=1", "--b", "--c=3"]
    assert result.flags_added == ["b"]
    # "--b" is "--b=true": either way round, nothing to change.
    assert run(result.after, set={"b": True}).changed is False
    assert run(with_command("--b=true"), set={"b": None}).changed is False
    changed = run(result.after, set={"b": False})
    assert changed.flags_changed == {"b": {"before": None, "after": "false"}}


def test_flags_given_as_pairs_are_read() -> None:
    manifest = with_command("--audit-log-path", "-", "--secure-port", "6443", "--anonymous-auth", "--v", "2")
    manifest["spec"]["containers"][0]["command"].extend(["--etcd-servers", 2379])  # an int from unquoted YAML
    result = run(manifest, set={"secure-port": 6443, "v": 4, "anonymous-auth": None, "etcd-servers": 2379})
    assert command(result)[1:] == [
        "--audit-log-path",
        "-",
        "--secure-port",
        "6443",
        "--anonymous-auth",
        "--v=4",
        "--etcd-servers",
        2379,
    ]
    assert result.flags_changed == {"v": {"before": "2", "after": "4"}}


def test_flags_in_args() -> None:
    manifest = with_command(args=["--secure-port=6443", "--anonymous-auth=true"])
    result = run(manifest, set={"anonymous-auth": False, "profiling": False})
    container = result.after["spec"]["containers"][0]
    assert container["command"] == ["kube-apiserver"]
    assert container["args"] == ["--secure-port=6443", "--anonymous-auth=false", "--profiling=false"]
    assert result.args == container["args"]


def test_container_without_command_gets_args_in_sorted_key_position() -> None:
    manifest = with_command()
    del manifest["spec"]["containers"][0]["command"]
    result = run(manifest, set={"profiling": False})
    container = result.after["spec"]["containers"][0]
    assert list(container)[:2] == ["args", "image"]
    assert container["args"] == ["--profiling=false"]


def test_repeated_flags() -> None:
    manifest = with_command("--enable-admission-plugins=A", "--v=2", "--enable-admission-plugins=B", "--v=3")
    assert run(manifest, set={"enable-admission-plugins": ["B"], "v": 3}).changed is False  # the last --v wins
    result = run(manifest, set={"enable-admission-plugins": ["C"], "v": 4})
    assert command(result)[1:] == ["--enable-admission-plugins=A,B,C", "--v=4"]


def test_other_items_are_kept() -> None:
    manifest = with_command("--a=1", "--", "--b=2")
    result = run(manifest, set={"b": 3}, remove=["a"])
    assert command(result)[1:] == ["--", "--b=2", "--b=3"]


def test_second_plan_is_idempotent() -> None:
    options: dict[str, t.Any] = {
        "set": {
            "anonymous-auth": False,
            "enable-admission-plugins": ["NodeRestriction", "PodSecurity"],
            "audit-log-path": "/var/log/kubernetes/audit/audit.log",
            "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
        },
        "remove": ["enable-bootstrap-token-auth"],
        "volumes": [{"name": "encryption", "host_path": "/etc/kubernetes/enc", "type": "Directory"}],
    }
    first = run(**copy.deepcopy(options))
    assert first.changed is True
    second = run(first.after, **copy.deepcopy(options))
    assert second.changed is False
    assert second.after == first.after
    assert (second.flags_added, second.flags_changed, second.flags_removed, second.volumes_added) == ([], {}, [], [])
    # ... and stays so through the rendered text.
    third = run(parse_manifest(render_manifest(first.after), PATH), **copy.deepcopy(options))
    assert third.changed is False


def test_the_pod_given_is_not_modified() -> None:
    manifest = pod()
    run(manifest, set={"a": 1}, remove=["secure-port"], volumes=[{"name": "x", "host_path": "/x"}])
    assert manifest == pod()


# --- volumes ------------------------------------------------------------------------------------------


def mounts(result: Plan) -> list[dict[str, t.Any]]:
    return t.cast("list[dict[str, t.Any]]", result.after["spec"]["containers"][0]["volumeMounts"])


def volumes(result: Plan) -> list[dict[str, t.Any]]:
    return t.cast("list[dict[str, t.Any]]", result.after["spec"]["volumes"])


def test_auto_mount_adds_volume_and_mount_once() -> None:
    result = run(
        set={
            "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
            "admission-control-config-file": "/etc/kubernetes/audit/../audit/admission.yaml",
        }
    )
    assert result.volumes_added == ["bulwark-etc-kubernetes-audit"]
    assert mounts(result)[0] == {
        "mountPath": "/etc/kubernetes/audit",
        "name": "bulwark-etc-kubernetes-audit",
        "readOnly": True,
    }
    assert volumes(result)[0] == {
        "hostPath": {"path": "/etc/kubernetes/audit", "type": "DirectoryOrCreate"},
        "name": "bulwark-etc-kubernetes-audit",
    }
    assert len(mounts(result)) == 6 and len(volumes(result)) == 6
    again = run(result.after, set={"audit-policy-file": "/etc/kubernetes/audit/policy.yaml"})
    assert (again.changed, again.volumes_added) == (False, [])


def test_auto_mount_not_when_an_existing_mount_covers_the_path() -> None:
    result = run(
        set={
            "encryption-provider-config": "/etc/kubernetes/pki/enc/config.yaml",  # under k8s-certs
            "client-ca-file": "/etc/ssl/certs",  # a mountPath itself
            "etcd-servers": "https://127.0.0.1:2379",
            "audit-log-path": "-",
        }
    )
    assert result.volumes_added == []
    assert mounts(result) == mounts(run())


def test_auto_mount_of_a_list_value() -> None:
    result = run(set={"service-account-key-file": ["/etc/kubernetes/pki/sa.pub", "/etc/kubernetes/sa/extra.pub"]})
    assert result.volumes_added == ["bulwark-etc-kubernetes-sa"]


def test_writable_flag_mount_is_not_read_only() -> None:
    result = run(set={"audit-log-path": "/var/log/kubernetes/audit/audit.log"})
    assert result.volumes_added == ["bulwark-var-log-kubernetes-audit"]
    mount = next(m for m in mounts(result) if m["name"] == "bulwark-var-log-kubernetes-audit")
    assert mount == {"mountPath": "/var/log/kubernetes/audit", "name": "bulwark-var-log-kubernetes-audit"}
    assert "readOnly" not in mount


def test_writable_flag_under_a_read_only_mount() -> None:
    # Below a read-only mount: a writable mount of the file's own directory.
    result = run(set={"audit-log-path": "/etc/kubernetes/pki/audit/audit.log"})
    assert result.volumes_added == ["bulwark-etc-kubernetes-pki-audit"]
    # Directly in a read-only mount: the user has to choose.
    with pytest.raises(StaticPodError) as exc:
        run(set={"audit-log-path": "/etc/kubernetes/pki/audit.log"})
    assert str(exc.value) == (
        "set.audit-log-path: kube-apiserver writes to /etc/kubernetes/pki/audit.log, but /etc/kubernetes/pki is"
        " mounted read-only (volume 'k8s-certs'); choose another directory, or give volumes an entry"
        " name=k8s-certs host_path=/etc/kubernetes/pki read_only=false."
    )
    fixed = run(
        set={"audit-log-path": "/etc/kubernetes/pki/audit.log"},
        volumes=[{"name": "k8s-certs", "host_path": "/etc/kubernetes/pki", "read_only": False}],
    )
    assert next(m for m in mounts(fixed) if m["name"] == "k8s-certs") == {
        "mountPath": "/etc/kubernetes/pki",
        "name": "k8s-certs",
    }
    assert fixed.volumes_added == []


def test_auto_mount_refuses_the_root_directory() -> None:
    with pytest.raises(StaticPodError) as exc:
        run(set={"audit-policy-file": "/policy.yaml"})
    assert str(exc.value).startswith("set.audit-policy-file: /policy.yaml is directly in /; auto_mount does not mount")


@pytest.mark.parametrize("path", ["/audit.log", "/var/audit.log", "/var/log/audit.log", "/etc/x/../audit.log"])
def test_auto_mount_refuses_to_mount_a_shallow_directory_writable(path: str) -> None:
    """The audit log's directory is mounted writable: /, /var or /var/log would give the API server more than its log."""
    with pytest.raises(StaticPodError) as exc:
        run(set={"audit-log-path": path})
    assert str(exc.value).startswith("set.audit-log-path: ")
    assert "writable" in str(exc.value) or "directly in /" in str(exc.value)


def test_auto_mount_takes_a_directory_of_its_own_writable() -> None:
    fixed = run(set={"audit-log-path": "/var/log/kubernetes/audit/audit.log"})
    assert fixed.volumes_added
    assert run(set={"audit-policy-file": "/policy.yaml"}, auto_mount=False).volumes_added == []


def test_auto_mount_reuses_a_volume_of_the_same_host_path() -> None:
    manifest = pod()
    manifest["spec"]["volumes"].append({"hostPath": {"path": "/etc/kubernetes/audit"}, "name": "audit"})
    result = run(manifest, set={"audit-policy-file": "/etc/kubernetes/audit/policy.yaml"})
    assert result.volumes_added == []
    assert {"mountPath": "/etc/kubernetes/audit", "name": "audit", "readOnly": True} in mounts(result)


def test_auto_mount_false() -> None:
    result = run(set={"audit-policy-file": "/etc/kubernetes/audit/policy.yaml"}, auto_mount=False)
    assert result.volumes_added == [] and mounts(result) == mounts(run())


def test_auto_mount_name_clash() -> None:
    manifest = pod()
    manifest["spec"]["volumes"].append({"emptyDir": {}, "name": "bulwark-etc-kubernetes-audit"})
    result = run(manifest, set={"audit-policy-file": "/etc/kubernetes/audit/policy.yaml"})
    assert result.volumes_added == ["bulwark-etc-kubernetes-audit-2"]


def test_explicit_volume() -> None:
    spec = {"name": "encryption", "host_path": "/etc/kubernetes/enc", "mount_path": "/enc", "type": "Directory"}
    result = run(volumes=[spec])
    assert result.volumes_added == ["encryption"]
    assert {"hostPath": {"path": "/etc/kubernetes/enc", "type": "Directory"}, "name": "encryption"} in volumes(result)
    assert {"mountPath": "/enc", "name": "encryption", "readOnly": True} in mounts(result)
    names = [v["name"] for v in volumes(result)]
    assert names == sorted(names)  # kubeadm's order kept

    changed = run(result.after, volumes=[dict(spec, host_path="/srv/enc", read_only=False, type="")])
    assert (changed.changed, changed.volumes_added) == (True, [])
    assert {"hostPath": {"path": "/srv/enc"}, "name": "encryption"} in volumes(changed)
    assert {"mountPath": "/enc", "name": "encryption"} in mounts(changed)


def test_explicit_volume_on_a_path_that_is_mounted_already() -> None:
    with pytest.raises(StaticPodError) as exc:
        run(volumes=[{"name": "pki", "host_path": "/etc/kubernetes/pki"}])
    assert str(exc.value) == (
        "volumes[0].mount_path: /etc/kubernetes/pki is already the mountPath of the volume 'k8s-certs' in container"
        " 'kube-apiserver'; use that name or another path."
    )


def test_pod_without_volumes() -> None:
    manifest = parse_manifest("kind: Pod\nspec:\n  containers:\n  - command: [x]\n    name: x\n", PATH)
    result = run(manifest, set={"config": "/etc/x/config.yaml"})
    assert result.after["spec"] == {
        "containers": [
            {
                "command": ["x", "--config=/etc/x/config.yaml"],
                "name": "x",
                "volumeMounts": [{"mountPath": "/etc/x", "name": "bulwark-etc-x", "readOnly": True}],
            }
        ],
        "volumes": [{"hostPath": {"path": "/etc/x", "type": "DirectoryOrCreate"}, "name": "bulwark-etc-x"}],
    }


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("directory", "taken", "expected"),
    [
        ("/etc/kubernetes/audit", (), "bulwark-etc-kubernetes-audit"),
        ("/var/log/kube_API.server/", (), "bulwark-var-log-kube-api-server"),
        ("/etc/kubernetes/audit", ("bulwark-etc-kubernetes-audit",), "bulwark-etc-kubernetes-audit-2"),
        (
            "/etc/kubernetes/audit",
            ("bulwark-etc-kubernetes-audit", "bulwark-etc-kubernetes-audit-2"),
            "bulwark-etc-kubernetes-audit-3",
        ),
        ("/", (), "bulwark-root"),
    ],
)
def test_volume_name(directory: str, taken: tuple[str, ...], expected: str) -> None:
    assert volume_name(directory, taken) == expected


def test_long_volume_name_is_truncated_deterministically() -> None:
    directory = "/srv/" + "/".join(["a-rather-long-directory-name"] * 4)
    name = volume_name(directory, ())
    assert len(name) <= 63 and DNS_LABEL.match(name)
    assert name == volume_name(directory, ())  # deterministic
    assert name != volume_name(directory + "-other", ())
    assert name.startswith("bulwark-srv-a-rather-long-directory-name-a-rather-")
    clash = volume_name(directory, (name,))
    assert len(clash) <= 63 and DNS_LABEL.match(clash) and clash.endswith("-2")


# --- --help, backups ---------------------------------------------------------------------------------


def test_parse_help_flags() -> None:
    flags = parse_help_flags(HELP)
    assert flags == {
        "advertise-address",
        "emulated-version",
        "feature-gates",
        "secure-port",
        "tls-cipher-suites",
        "audit-log-maxage",
        "audit-log-path",
        "audit-policy-file",
        "profiling",
        "anonymous-auth",
        "authorization-mode",
        "disable-admission-plugins",
        "enable-admission-plugins",
        "v",
        "vmodule",
        "help",
        "version",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kubernetes v1.37.2\n", "Kubernetes v1.37.2"),
        ("\n  etcd Version: 3.6.5\nGit SHA: x\n", "etcd Version: 3.6.5"),
        ("", None),
    ],
)
def test_parse_version(text: str, expected: str | None) -> None:
    assert parse_version(text) == expected


def test_check_flags_known() -> None:
    known = parse_help_flags(HELP)
    check_flags_known(["anonymous-auth", "profiling"], known, "kube-apiserver", "Kubernetes v1.37.2")
    with pytest.raises(StaticPodError) as exc:
        check_flags_known(
            ["anonymous-auth", "anonymous_auth", "insecure-port", "enable-admision-plugins"],
            known,
            "kube-apiserver",
            "Kubernetes v1.37.2",
        )
    assert str(exc.value) == (
        "set: kube-apiserver (Kubernetes v1.37.2) does not know the flags 'anonymous_auth' (did you mean"
        " 'anonymous-auth'?), 'insecure-port' (did you mean 'secure-port'?), 'enable-admision-plugins' (did you mean"
        " 'enable-admission-plugins'?); nothing was changed. Flags that kube-apiserver no longer has belong in"
        " remove; for a deprecated flag that --help hides, set validate_flags to false."
    )
    with pytest.raises(StaticPodError) as exc:
        check_flags_known(["zzz"], known, "kube-apiserver", None)
    assert str(exc.value).startswith("set: kube-apiserver does not know the flag 'zzz'; nothing was changed.")


@pytest.mark.parametrize(
    ("backup_dir", "message"),
    [
        (
            "/etc/kubernetes/manifests",
            "backup_dir: /etc/kubernetes/manifests is the manifests directory /etc/kubernetes/manifests; kubelet would"
            " start a backup copy there as a second pod (kubernetes/kubernetes#55596). Use a directory outside it,"
            " such as /var/backups/bulwark/static-pods. Nothing was changed.",
        ),
        (
            "/etc/kubernetes/manifests/backups/",
            "backup_dir: /etc/kubernetes/manifests/backups is inside the manifests directory /etc/kubernetes/manifests;"
            " kubelet would start a backup copy there as a second pod (kubernetes/kubernetes#55596). Use a directory"
            " outside it, such as /var/backups/bulwark/static-pods. Nothing was changed.",
        ),
        ("backups", "backup_dir: backups is not an absolute path."),
    ],
)
def test_backup_dir_inside_manifests_dir(backup_dir: str, message: str) -> None:
    with pytest.raises(StaticPodError) as exc:
        check_backup_dir(backup_dir, ["/etc/kubernetes/manifests"])
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "backup_dir", ["/var/backups/bulwark/static-pods", "/etc/kubernetes", "/etc/kubernetes/manifests-old"]
)
def test_backup_dir_elsewhere(backup_dir: str) -> None:
    check_backup_dir(backup_dir, ["/etc/kubernetes/manifests", "/srv/manifests"])


def test_item_status_names_every_requested_flag() -> None:
    result = run(
        set={"profiling": False, "secure-port": 6443, "authorization-mode": ["Node", "RBAC"]},
        remove=["enable-bootstrap-token-auth", "insecure-port"],
        remove_list_items={"enable-admission-plugins": ["AlwaysAdmit"]},
    )
    assert result.item_status == {
        "profiling": "changed",
        "secure-port": "ok",
        "authorization-mode": "ok",
        "enable-bootstrap-token-auth": "changed",
        "insecure-port": "ok",
        "enable-admission-plugins": "ok",
        "authorization-mode/Node": "ok",
        "authorization-mode/RBAC": "ok",
        "enable-admission-plugins/AlwaysAdmit": "ok",
    }
    assert result.flags["profiling"] == "false"


def test_item_status_reports_each_item_of_a_list_flag() -> None:
    manifest = with_command("--enable-admission-plugins=NodeRestriction,AlwaysAdmit")
    result = run(
        manifest,
        set={"enable-admission-plugins": ["NodeRestriction", "EventRateLimit"]},
        remove_list_items={"enable-admission-plugins": ["AlwaysAdmit"]},
    )
    assert result.flags["enable-admission-plugins"] == "NodeRestriction,EventRateLimit"
    assert result.item_status == {
        "enable-admission-plugins": "changed",
        "enable-admission-plugins/NodeRestriction": "ok",
        "enable-admission-plugins/EventRateLimit": "changed",
        "enable-admission-plugins/AlwaysAdmit": "changed",
    }
    assert "enable-bootstrap-token-auth" not in result.flags


def test_annotations_are_set_and_kept() -> None:
    result = run(annotations={"bulwark.io/config-digest": "abc"})
    annotations = result.after["metadata"]["annotations"]
    assert annotations == {
        "bulwark.io/config-digest": "abc",
        "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "172.18.0.2:6443",
    }
    assert result.changed and result.flags_added == [] and result.flags_changed == {}
    again = plan(result.after, build_request(annotations={"bulwark.io/config-digest": "abc"}), path=PATH)
    assert not again.changed


def test_annotations_on_a_pod_without_any() -> None:
    manifest = KUBE_APISERVER.replace(
        "  annotations:\n    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 172.18.0.2:6443\n", ""
    )
    result = plan(parse_manifest(manifest, PATH), build_request(annotations={"a": 1}), path=PATH)
    assert result.after["metadata"]["annotations"] == {"a": "1"}
    assert list(result.after["metadata"]) == ["annotations", "labels", "name", "namespace"]


def test_conflicting_flag_of_the_users_own_file_fails_before_any_change() -> None:
    manifest = with_command("--authentication-config=/etc/oidc/auth.yaml")
    request = build_request(
        set_={"authentication-config": "/etc/kubernetes/bulwark/authentication.yaml"},
        conflicts=["authentication-config"],
    )
    with pytest.raises(StaticPodError, match=r"already sets --authentication-config=/etc/oidc/auth.yaml, which"):
        plan(manifest, request, path=PATH)
    # The same value, or a flag that is not there yet, is no conflict.
    same = build_request(
        set_={"authentication-config": "/etc/oidc/auth.yaml"}, conflicts=["authentication-config"], auto_mount=False
    )
    assert not plan(manifest, same, path=PATH).changed
    assert plan(parse_manifest(KUBE_APISERVER, PATH), request, path=PATH).changed


# --------------------------------------------------------------------------- required, map flags, paths


def test_required_flags_must_be_there_after_the_edits() -> None:
    assert run(set={"profiling": False}, required=["tls-cert-file", "client-ca-file"]).changed
    with pytest.raises(StaticPodError) as caught:
        run(remove=["tls-cert-file"], required=["tls-cert-file"])
    assert str(caught.value) == "required_flags and remove: tls-cert-file cannot be both required and removed."
    with pytest.raises(StaticPodError) as caught:
        run(set={"profiling": False}, required=["tls-cert-file", "peer-cert-file", "peer-key-file"])
    assert str(caught.value) == (
        f"required_flags: container 'kube-apiserver' in {PATH} has no --peer-cert-file, --peer-key-file; this change"
        " does not make what they name (kubeadm does). Nothing was changed."
    )


def test_map_flags_set_keys_and_keep_the_others() -> None:
    manifest = pod()
    manifest["spec"]["containers"][0]["command"].append("--feature-gates=Foo=true,RotateKubeletServerCertificate=false")
    result = run(manifest, set={"feature-gates": "RotateKubeletServerCertificate=true,Bar=false"})
    assert result.flags["feature-gates"] == "Foo=true,RotateKubeletServerCertificate=true,Bar=false"
    assert result.item_status == {
        "feature-gates": "changed",
        "feature-gates/RotateKubeletServerCertificate": "changed",
        "feature-gates/Bar": "changed",
    }
    again = run(result.after, set={"feature-gates": ["RotateKubeletServerCertificate=true"]})
    assert not again.changed
    assert again.item_status == {"feature-gates": "ok", "feature-gates/RotateKubeletServerCertificate": "ok"}
    fresh = run(set={"feature-gates": {"A": True} and "A=true"})
    assert fresh.flags["feature-gates"] == "A=true" and fresh.flags_added == ["feature-gates"]


def test_map_flags_refuse_items_without_a_value() -> None:
    with pytest.raises(StaticPodError) as caught:
        run(set={"feature-gates": "RotateKubeletServerCertificate"})
    assert str(caught.value) == (
        "set.feature-gates: RotateKubeletServerCertificate is not key=value; feature-gates is a map of key=value items."
    )
    with pytest.raises(StaticPodError) as caught:
        build_request(list_flags=["feature-gates"], map_flags=["feature-gates"])
    assert str(caught.value) == "list_flags and map_flags: feature-gates cannot be both."


def test_input_paths_are_the_files_the_pod_reads() -> None:
    request = build_request(
        {
            "kubelet-certificate-authority": "/etc/kubernetes/pki/ca.crt",
            "audit-policy-file": "/etc/kubernetes/bulwark//audit-policy.yaml",
            "audit-log-path": "/var/log/kubernetes/audit.log",
            "data-dir": "/var/lib/etcd",
            "tls-cipher-suites": "/a,/b",
            "profiling": False,
            "bind-address": "127.0.0.1",
        }
    )
    assert input_paths(request, ["/etc/kubernetes/bulwark/audit-policy.yaml"]) == [
        ("kubelet-certificate-authority", "/etc/kubernetes/pki/ca.crt")
    ]


def test_the_gate_reads_the_program_logs_and_previous_arguments() -> None:
    result = run(set={"profiling": False})
    assert container_program(result.after["spec"]["containers"][0]) == "kube-apiserver"
    assert container_program({"name": "x", "command": ["/usr/local/bin/etcd", "--a"]}) == "etcd"
    assert container_program({"name": "x", "args": ["--a"]}) is None
    assert log_glob(result.after, "kube-apiserver") == "/var/log/pods/kube-system_kube-apiserver-*/kube-apiserver/*.log"
    assert result.before_args == pod()["spec"]["containers"][0]["command"][1:]
    assert "--profiling=false" in result.args and "--profiling=false" not in result.before_args


def test_stale_items_are_those_the_running_process_lacks() -> None:
    from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import process_flags, stale_items

    options = {
        "set": {"profiling": False, "authorization-mode": ["Node", "RBAC"], "enable-admission-plugins": ["PodSecurity"]},
        "remove": ["insecure-port"],
        "required": ["tls-cert-file"],
    }
    result = run(**copy.deepcopy(options))
    request = build_request(options["set"], options["remove"], required=options["required"])
    running = ["/usr/local/bin/kube-apiserver", *result.before_args]  # the old process: no --profiling=false
    live = process_flags(running)
    assert live["authorization-mode"] == "Node,RBAC" and "profiling" not in live
    assert stale_items(request, result, live) == {
        "profiling": "changed",
        "authorization-mode": "ok",
        "authorization-mode/Node": "ok",
        "authorization-mode/RBAC": "ok",
        "enable-admission-plugins": "changed",
        "enable-admission-plugins/PodSecurity": "changed",
        "insecure-port": "ok",
        "tls-cert-file": "ok",
    }
    # The manifest is as asked, but the old process still runs: what it lacks is not in effect.
    converged = run(result.after, **copy.deepcopy(options))
    assert stale_items(request, converged, live) == {
        "profiling": "stale",
        "authorization-mode": "ok",
        "authorization-mode/Node": "ok",
        "authorization-mode/RBAC": "ok",
        "enable-admission-plugins": "stale",
        "enable-admission-plugins/PodSecurity": "stale",
        "insecure-port": "ok",
        "tls-cert-file": "ok",
    }
    assert stale_items(request, converged, process_flags(["kube-apiserver", *result.args])) == converged.item_status


def test_a_diff_of_the_manifest_never_shows_env_values() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: x\n    image: x\n"
        "    env:\n    - {name: TOKEN, value: s3cr3t-token}\n    - name: FROM_FIELD\n      valueFrom: {fieldRef: {fieldPath: status.podIP}}\n"
    )
    shown = manifest_for_diff(text, "/m.yaml")
    assert "s3cr3t-token" not in shown and "TOKEN" in shown and "status.podIP" in shown
    assert manifest_for_diff("not: [yaml", "/m.yaml") == "not: [yaml"
