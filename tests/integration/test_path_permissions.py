# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""bulwark.hardening.path_permissions against a real systemd target.

A throwaway ``bulwark-lab/base`` container (Debian 12, systemd as PID 1) is started for this
module and removed at the end (fixtures in conftest.py). Each test lays out Docker-like files
with wrong owners and modes (a unit file reached through a symlink, a Unix socket, a certs.d
tree, a missing file) and checks the result with stat inside the container. No mocks.
"""

from __future__ import annotations

import typing as t

import pytest

MODULE = "bulwark.hardening.path_permissions"
Run = t.Callable[..., t.Dict[str, t.Any]]

LAYOUT = r"""
rm -rf /etc/docker /lib/systemd/system/bwk-test.service /etc/systemd/system/bwk-test.service /run/bwk-test.sock
getent group docker >/dev/null || groupadd --system docker
mkdir -p /etc/docker/certs.d/registry:5000
chmod 0777 /etc/docker
printf '{}\n' > /etc/docker/daemon.json
chown nobody:nogroup /etc/docker/daemon.json
chmod 0666 /etc/docker/daemon.json
printf '{}\n' > /etc/docker/strict.json
chmod 0600 /etc/docker/strict.json
printf '[Unit]\nDescription=test\n' > /lib/systemd/system/bwk-test.service
chown nobody /lib/systemd/system/bwk-test.service
chmod 0664 /lib/systemd/system/bwk-test.service
ln -s /lib/systemd/system/bwk-test.service /etc/systemd/system/bwk-test.service
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("/run/bwk-test.sock")'
chmod 0777 /run/bwk-test.sock
chmod 0777 /etc/docker/certs.d
printf 'cert\n' > /etc/docker/certs.d/registry:5000/ca.crt
chown nobody:nogroup /etc/docker/certs.d/registry:5000/ca.crt
chmod 0666 /etc/docker/certs.d/registry:5000/ca.crt
printf 'key\n' > /etc/docker/certs.d/registry:5000/client.key
chmod 0400 /etc/docker/certs.d/registry:5000/client.key
ln -s /etc/docker/daemon.json /etc/docker/certs.d/registry:5000/link
rm -f /etc/default/docker
"""

PATHS = [
    {"path": "/etc/docker", "owner": "root", "group": "root", "mode": "0755", "mode_max": True, "state": "required"},
    {"path": "/etc/docker/daemon.json", "owner": "root", "group": "root", "mode": "0644", "mode_max": True},
    {"path": "/etc/docker/strict.json", "owner": "root", "group": "root", "mode": "0644", "mode_max": True},
    {
        "path": "/etc/systemd/system/bwk-test.service",
        "owner": "root",
        "group": "root",
        "mode": "0644",
        "mode_max": True,
    },
    {"path": "/run/bwk-test.sock", "owner": "root", "group": "docker", "mode": "0660"},
    {
        "path": "/etc/docker/certs.d",
        "owner": "root",
        "group": "root",
        "mode": "0444",
        "mode_max": True,
        "recurse": True,
    },
    {"path": "/etc/default/docker", "owner": "root", "group": "root", "mode": "0644", "mode_max": True},
]

WATCHED = [
    "/etc/docker",
    "/etc/docker/daemon.json",
    "/etc/docker/strict.json",
    "/etc/systemd/system/bwk-test.service",
    "/lib/systemd/system/bwk-test.service",
    "/run/bwk-test.sock",
    "/etc/docker/certs.d",
    "/etc/docker/certs.d/registry:5000",
    "/etc/docker/certs.d/registry:5000/ca.crt",
    "/etc/docker/certs.d/registry:5000/client.key",
    "/etc/docker/certs.d/registry:5000/link",
]


@pytest.fixture(scope="module")
def target(lab_targets: t.Any) -> t.Any:
    return lab_targets.start("bwk-it-perm")


@pytest.fixture
def layout(target: t.Any) -> t.Any:
    target.sh(LAYOUT)
    return target


def stats(target: t.Any) -> dict[str, str]:
    """``mode owner:group type ctime`` of every watched path, without following symlinks."""
    out = target.sh("stat -c '%n|%a %U:%G %F %Z' " + " ".join(f"'{p}'" for p in WATCHED))
    return dict(line.split("|", 1) for line in out.splitlines())


def perms(target: t.Any, path: str) -> str:
    return target.sh(f"stat -c '%a %U:%G' '{path}'")


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert result.get("failed") is not True, result
    return result


EXPECTED_STATUS = {
    "/etc/docker": "changed",
    "/etc/docker/daemon.json": "changed",
    "/etc/docker/strict.json": "ok",
    "/etc/systemd/system/bwk-test.service": "changed",
    "/run/bwk-test.sock": "changed",
    "/etc/docker/certs.d": "changed",
    "/etc/default/docker": "absent",
}


def test_quartet(layout: t.Any, run_module: Run) -> None:
    target, args = layout, {"paths": PATHS}
    untouched = stats(target)

    # 1. check: predicts every change, touches nothing (ctime moves on any chmod or chown)
    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is True
    assert result["item_status"] == EXPECTED_STATUS
    assert [p["status"] for p in result["paths"]] == list(EXPECTED_STATUS.values())
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["/etc/docker/daemon.json"] == {"owner": "nobody", "group": "nogroup", "mode": "0666"}
    assert after["/etc/docker/daemon.json"] == {"owner": "root", "group": "root", "mode": "0644"}
    # the symlink is followed: the unit file's owner and mode are shown under the link's path
    assert before["/etc/systemd/system/bwk-test.service"] == {"owner": "nobody", "group": "root", "mode": "0664"}
    assert after["/etc/systemd/system/bwk-test.service"] == {"owner": "root", "group": "root", "mode": "0644"}
    assert after["/run/bwk-test.sock"] == {"owner": "root", "group": "docker", "mode": "0660"}
    assert after["/etc/docker/certs.d/registry:5000/ca.crt"] == {"owner": "root", "group": "root", "mode": "0444"}
    assert "/etc/docker/strict.json" not in before
    assert "/etc/docker/certs.d/registry:5000/link" not in before
    assert stats(target) == untouched

    # 2. apply
    result = ok(run_module(target, MODULE, args, "--diff"))
    assert result["changed"] is True
    assert result["item_status"] == EXPECTED_STATUS
    certs = result["paths"][5]
    assert certs["changed_beneath"] == [
        "/etc/docker/certs.d/registry:5000",
        "/etc/docker/certs.d/registry:5000/ca.crt",
    ]
    assert result["paths"][6] == {"path": "/etc/default/docker", "status": "absent", "before": None, "after": None}
    assert perms(target, "/etc/docker") == "755 root:root"
    assert perms(target, "/etc/docker/daemon.json") == "644 root:root"
    assert perms(target, "/etc/docker/strict.json") == "600 root:root"  # more restrictive is fine
    assert perms(target, "/lib/systemd/system/bwk-test.service") == "644 root:root"
    assert target.sh("stat -c %F /etc/systemd/system/bwk-test.service") == "symbolic link"
    assert target.sh("stat -c '%a %U:%G %F' /run/bwk-test.sock") == "660 root:docker socket"
    assert perms(target, "/etc/docker/certs.d") == "555 root:root"
    assert perms(target, "/etc/docker/certs.d/registry:5000") == "555 root:root"
    assert perms(target, "/etc/docker/certs.d/registry:5000/ca.crt") == "444 root:root"
    assert perms(target, "/etc/docker/certs.d/registry:5000/client.key") == "400 root:root"
    assert target.sh("test -e /etc/default/docker && echo present || echo missing") == "missing"
    converged = stats(target)

    # 3. check: nothing to do
    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is False
    assert set(result["item_status"].values()) == {"ok", "absent"}
    assert result["item_status"]["/etc/default/docker"] == "absent"
    assert result["diff"] == {"before": {}, "after": {}}

    # 4. apply: nothing changed, not even a ctime
    result = ok(run_module(target, MODULE, args, "--diff"))
    assert result["changed"] is False
    assert stats(target) == converged


def test_follow_false_leaves_the_target(layout: t.Any, run_module: Run) -> None:
    args = {"follow": False, "paths": [{"path": "/etc/systemd/system/bwk-test.service", "owner": "nobody"}]}
    result = ok(run_module(layout, MODULE, args))
    assert result["changed"] is True
    assert layout.sh("stat -c %U /etc/systemd/system/bwk-test.service") == "nobody"  # the link itself
    layout.sh("chown -h root /etc/systemd/system/bwk-test.service")
    result = ok(run_module(layout, MODULE, {**args, "paths": [{**args["paths"][0], "owner": "root"}]}))
    assert result["changed"] is False


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"path": "/etc/docker/daemon.json", "group": "dokcer"},
            "paths[1].group: group 'dokcer' does not exist on this host. Create it first or fix the name (a numeric id"
            " is used as it is). Nothing was changed.",
        ),
        (
            {"path": "/etc/default/docker", "mode": "0644", "state": "required"},
            "paths[1].path: /etc/default/docker does not exist and paths[1].state is 'required'; create it first, or"
            " use state 'present_only' to skip a missing path. Nothing was changed.",
        ),
    ],
)
def test_errors_change_nothing(layout: t.Any, run_module: Run, entry: dict[str, t.Any], message: str) -> None:
    untouched = stats(layout)
    # entry 0 alone would change /etc/docker (0777): the bad entry 1 must stop it
    result = run_module(layout, MODULE, {"paths": [PATHS[0], entry]})
    assert result.get("failed") is True
    assert result["msg"] == message
    assert stats(layout) == untouched


def test_integer_mode_is_refused(layout: t.Any, run_module: Run) -> None:
    # what YAML makes of an unquoted 0644
    result = run_module(layout, MODULE, {"paths": [{"path": "/etc/docker/daemon.json", "mode": 420}]})
    assert result.get("failed") is True
    assert result["msg"].startswith("paths[0].mode: 420 is a number, not a string; quote the mode")
    assert perms(layout, "/etc/docker/daemon.json") == "666 nobody:nogroup"
