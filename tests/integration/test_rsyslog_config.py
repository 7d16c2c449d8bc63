# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""rsyslog_config on a real rsyslogd under systemd (the lab's syslog image): the drop-in is checked by
rsyslogd -N1 with the rest of the configuration before it is installed, rsyslog is restarted only
when it changed or runs an older configuration, and a service that does not come back gets the
previous drop-in back."""

from __future__ import annotations

import typing as t

import pytest

from conftest import LabTarget, LabTargets

SYSLOG_IMAGE = "bulwark-lab/syslog:latest"
MODULE = "bulwark.hardening.rsyslog_config"
DROP_IN = "/etc/rsyslog.d/60-bulwark-test.conf"
GOOD = (
    'template(name="bulwark_test" type="string" string="%msg%\\n")\n'
    'local5.* action(type="omfile" file="/var/log/bulwark-test.log" template="bulwark_test")\n'
)
OTHER = 'local6.* action(type="omfile" file="/var/log/bulwark-other.log")\n'
BOGUS = 'local5.* action(type="omfwd" target="127.0.0.1" bogus="1")\n'


@pytest.fixture(scope="module")
def host(lab_targets: LabTargets) -> LabTarget:
    target = lab_targets.start("bulwark-it-rsyslog", SYSLOG_IMAGE)
    target.exec("systemctl", "start", "rsyslog")
    return target


def rsyslogd_pid(host: LabTarget) -> str:
    return host.sh("systemctl show -p MainPID --value rsyslog").strip()


def run(run_module: t.Callable[..., dict[str, t.Any]], host: LabTarget, *flags: str, **args: t.Any) -> dict[str, t.Any]:
    return run_module(host, MODULE, {"path": DROP_IN, **args}, *flags)


def test_check_mode_validates_and_changes_nothing(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    pid = rsyslogd_pid(host)
    result = run(run_module, host, "--check", "--diff", content=GOOD)
    assert result["changed"] and result["restarted"] and result["item_status"] == {"config": "changed"}, result
    assert any("config validation run" in line for line in result["validation"])
    assert result["diff"]["after"] == GOOD
    assert host.read(DROP_IN) is None and rsyslogd_pid(host) == pid


def test_a_drop_in_is_installed_run_and_then_left_alone(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    pid = rsyslogd_pid(host)
    result = run(run_module, host, content=GOOD)
    assert result["changed"] and result["restarted"], result
    assert host.read(DROP_IN) == GOOD.encode()
    assert rsyslogd_pid(host) != pid
    host.exec("logger", "-p", "local5.info", "bulwark-test-line")
    host.sh("for i in $(seq 50); do grep -q bulwark-test-line /var/log/bulwark-test.log 2>/dev/null && break; sleep 0.1; done")
    assert b"bulwark-test-line" in (host.read("/var/log/bulwark-test.log") or b""), "the restarted rsyslogd runs the drop-in"

    pid = rsyslogd_pid(host)
    again = run(run_module, host, content=GOOD)
    assert not again["changed"] and not again["restarted"] and again["item_status"] == {"config": "ok"}, again
    assert rsyslogd_pid(host) == pid


def test_a_configuration_rsyslogd_refuses_is_never_installed(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    pid = rsyslogd_pid(host)
    for flags in ((), ("--check",)):
        result = run(run_module, host, *flags, content=BOGUS)
        assert result.get("failed"), result
        assert "parameter 'bogus' not known" in result["msg"] and result["msg"].endswith("Nothing was changed."), result["msg"]
    assert host.read(DROP_IN) == GOOD.encode() and rsyslogd_pid(host) == pid


def test_missing_files_and_an_unread_drop_in_are_errors_before_any_change(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    result = run(run_module, host, content=OTHER, requires=["/etc/rsyslog.d/tls/ca.pem"])
    assert result.get("failed") and result["msg"].startswith("requires: /etc/rsyslog.d/tls/ca.pem missing or not readable"), result
    result = run_module(host, MODULE, {"path": "/etc/rsyslog.conf.d/x.conf", "content": OTHER})
    assert result.get("failed") and "rsyslog would never read it" in result["msg"], result
    assert host.read(DROP_IN) == GOOD.encode()


def test_a_drop_in_newer_than_rsyslogd_is_stale_until_it_restarts(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    host.exec("touch", "-d", "+5 seconds", DROP_IN)
    result = run(run_module, host, content=GOOD, restart=False)
    assert not result["changed"] and result["item_status"] == {"config": "stale"}, result
    result = run(run_module, host, content=GOOD)
    assert result["changed"] and result["restarted"] and not result.get("failed"), result
    host.exec("touch", DROP_IN)  # back to now: rsyslogd started after it


def test_a_service_that_does_not_come_back_gets_the_previous_drop_in(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    # A unit that cannot start stands for an rsyslog that dies on its new configuration.
    unit = "[Service]\nExecStart=/bin/false\n"
    host.write(unit.encode(), "/etc/systemd/system/bulwark-broken.service")
    host.exec("systemctl", "daemon-reload")
    result = run(run_module, host, content=OTHER, service="bulwark-broken", timeout=3)
    assert result.get("failed") and result["rolled_back"] is True, result
    assert "The previous drop-in was put back" in result["msg"], result["msg"]
    assert host.read(DROP_IN) == GOOD.encode()


def test_absent_removes_the_drop_in_after_checking_the_rest(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]) -> None:
    result = run(run_module, host, state="absent")
    assert result["changed"] and result["restarted"], result
    assert host.read(DROP_IN) is None
    assert not run(run_module, host, state="absent")["changed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"content": OTHER, "mode": "rw-r--r--"}, "mode: 'rw-r--r--' is not an octal mode such as 0644."),
        ({"content": OTHER, "path": "rsyslog.d/x.conf"}, "path must be an absolute path"),
        ({"content": OTHER, "timeout": 0}, "timeout: 0 is not between 1 and 3600 seconds."),
        ({"state": "present"}, "state is present but all of the following are missing: content"),
    ],
)
def test_bad_input_is_refused_by_name(host: LabTarget, run_module: t.Callable[..., dict[str, t.Any]], args: dict[str, t.Any], message: str) -> None:
    result = run(run_module, host, **args)
    assert result.get("failed") and message in result["msg"], result
    assert host.read(DROP_IN) is None
