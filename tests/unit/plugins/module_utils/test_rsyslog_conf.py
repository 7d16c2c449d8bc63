# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.rsyslog_conf import (
    RsyslogConfError,
    included_globs,
    sandboxed_main,
    validation_problems,
)

DEBIAN = """\
module(load="imuxsock")
$WorkDirectory /var/spool/rsyslog
# $IncludeConfig /etc/old.d/*.conf
$IncludeConfig /etc/rsyslog.d/*.conf
include(file="/etc/extra/*.conf" mode="optional")
*.* /var/log/syslog
"""


def test_includes_are_read_in_order_without_comments() -> None:
    assert included_globs(DEBIAN) == ["/etc/rsyslog.d/*.conf", "/etc/extra/*.conf"]


def test_only_the_includes_that_pick_the_drop_in_move_to_the_sandbox() -> None:
    text = sandboxed_main(DEBIAN, "/etc/rsyslog.d/60-bulwark.conf", "/tmp/sb")
    assert "$IncludeConfig /tmp/sb/*.conf\n" in text
    assert 'include(file="/etc/extra/*.conf" mode="optional")' in text, "other directories stay live"
    assert "# $IncludeConfig /etc/old.d/*.conf" in text and "*.* /var/log/syslog" in text


def test_rainerscript_includes_are_redirected_too() -> None:
    text = sandboxed_main("include(file='/etc/rsyslog.d/*.conf')\n", "/etc/rsyslog.d/a.conf", "/tmp/sb")
    assert text == "include(file='/tmp/sb/*.conf')\n"


@pytest.mark.parametrize("drop_in", ["/etc/rsyslog.d/60-bulwark.frag", "/etc/rsyslog.conf.d/60.conf", "/etc/rsyslog.d/sub/60.conf"])
def test_a_drop_in_rsyslog_would_never_read_is_an_error(drop_in: str) -> None:
    with pytest.raises(RsyslogConfError, match="rsyslog would never read it"):
        sandboxed_main(DEBIAN, drop_in, "/tmp/sb")


def test_rsyslogd_words_decide_with_its_exit_code() -> None:
    header = "rsyslogd: version 8.2302.0, config validation run (level 1), master config /tmp/m\n"
    bye = "rsyslogd: End of config validation run. Bye.\n"
    assert validation_problems(header + bye, 0) == []
    refused = "rsyslogd: error during parsing file /tmp/a.conf, on or before line 1: parameter 'bogus' not known"
    assert validation_problems(header + refused + "\n", 1) == [refused]
    assert validation_problems("", 1) == ["rsyslogd -N1 exited 1"]
    assert validation_problems(header + "rsyslogd: error: something it skipped\n" + bye, 0) == ["rsyslogd: error: something it skipped"]
    assert validation_problems(header + "rsyslogd: warning: deprecated\n" + bye, 0) == []
