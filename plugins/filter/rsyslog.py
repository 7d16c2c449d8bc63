# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.rsyslog_render import (
    RsyslogRenderError,
    forwarding_config,
    receiver_config,
    required_files,
)


def _render(name: str, render: t.Callable[[t.Mapping[str, t.Any]], t.Any], options: t.Any) -> t.Any:
    if not isinstance(options, t.Mapping):
        raise AnsibleFilterError(f"{name}: give a mapping of options, not {type(options).__name__}.")
    try:
        return render(options)
    except RsyslogRenderError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from exc


def rsyslog_forwarding_config(options: t.Any) -> str:
    return t.cast(str, _render("rsyslog_forwarding_config", forwarding_config, options))


def rsyslog_receiver_config(options: t.Any) -> str:
    return t.cast(str, _render("rsyslog_receiver_config", receiver_config, options))


def rsyslog_required_files(options: t.Any) -> list[str]:
    return t.cast(list, _render("rsyslog_required_files", required_files, options))


class FilterModule:
    """bulwark.hardening rsyslog filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "rsyslog_forwarding_config": rsyslog_forwarding_config,
            "rsyslog_receiver_config": rsyslog_receiver_config,
            "rsyslog_required_files": rsyslog_required_files,
        }
