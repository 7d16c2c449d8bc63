# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Waivers: an exception to a control that someone accepted, with a reason and an expiry date.

They are declared in inventory as ``bulwark_waivers``::

    bulwark_waivers:
      - id: CIS-Docker 2.13
        reason: the lab has no registry mirror yet (TICKET-42)
        expires: 2027-03-31
        groups: [lab]          # or hosts: [web1], or neither: every host

A waiver changes what the report says, not what a role does: the control is reported ``waived``
with its reason (and the status it had), and once the expiry date has passed it is reported
``fail``. To stop a role enforcing a control, set the control's role variable as well.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import typing as t

__all__ = ["Waiver", "WaiverError", "load_waivers", "waiver_from_dict", "waivers_for_host"]

VARIABLE = "bulwark_waivers"
_KEYS = ("id", "reason", "expires", "hosts", "groups")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_REASON_LIMIT = 500


class WaiverError(ValueError):
    """A waiver is malformed; the message names the entry and field and is shown as is."""


@dataclasses.dataclass(frozen=True)
class Waiver:
    id: str
    reason: str
    expires: datetime.date
    hosts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def applies_to(self, host: str, groups: t.Iterable[str]) -> bool:
        """Every host when neither hosts nor groups are given; otherwise the hosts named and the members of the groups."""
        if not self.hosts and not self.groups:
            return True
        return host in self.hosts or any(group in self.groups for group in groups)

    def expired(self, today: datetime.date) -> bool:
        """A waiver holds through its expiry date and has expired the day after."""
        return today > self.expires

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
            "hosts": list(self.hosts),
            "groups": list(self.groups),
        }


def _describe(value: t.Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _text(value: t.Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WaiverError(f"{where} must be a non-empty string, not {_describe(value)}.")
    if "\x00" in value or "\n" in value.strip() or "\r" in value:
        raise WaiverError(f"{where} must be one line of text.")
    return value.strip()


def _date(value: t.Any, where: str) -> datetime.date:
    # YAML reads an unquoted 2027-03-31 as a date; quoted, or from -e or a survey, it is a string.
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise WaiverError(
        f"{where} must be a date written YYYY-MM-DD (the last day the waiver holds), not {_describe(value)}."
    )


def _names(value: t.Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise WaiverError(f"{where} must be a list of names, not {_describe(value)}.")
    return tuple(_text(name, f"{where}[{index}]") for index, name in enumerate(value))


def load_waivers(data: t.Any, known_ids: t.Collection[str]) -> list[Waiver]:
    """Validate ``bulwark_waivers`` (null or a list of mappings) against the catalog's control ids."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise WaiverError(
            f"{VARIABLE} must be a list of waivers (id, reason, expires, and hosts or groups), not {_describe(data)}."
        )
    waivers: list[Waiver] = []
    seen: dict[tuple[str, tuple[str, ...], tuple[str, ...]], int] = {}
    for index, entry in enumerate(data):
        where = f"{VARIABLE}[{index}]"
        if not isinstance(entry, t.Mapping):
            raise WaiverError(f"{where} must be a mapping, not {_describe(entry)}.")
        unknown = sorted(str(key) for key in entry if key not in _KEYS)
        if unknown:
            raise WaiverError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_KEYS)}.")
        missing = [key for key in ("id", "reason", "expires") if key not in entry]
        if missing:
            raise WaiverError(f"{where}: missing {', '.join(missing)}; a waiver needs an id, a reason and an expiry date.")
        control_id = _text(entry["id"], f"{where}.id")
        if control_id not in known_ids:
            raise WaiverError(f"{where}.id: {control_id!r} is not a control of the catalog (see docs/controls.md).")
        reason = _text(entry["reason"], f"{where}.reason")
        if len(reason) > _REASON_LIMIT:
            raise WaiverError(f"{where}.reason is longer than {_REASON_LIMIT} characters; link to the ticket instead.")
        waiver = Waiver(
            id=control_id,
            reason=reason,
            expires=_date(entry["expires"], f"{where}.expires"),
            hosts=_names(entry.get("hosts"), f"{where}.hosts"),
            groups=_names(entry.get("groups"), f"{where}.groups"),
        )
        scope = (waiver.id, waiver.hosts, waiver.groups)
        if scope in seen:
            raise WaiverError(f"{where} waives {control_id} for the same hosts as {VARIABLE}[{seen[scope]}]; keep one.")
        seen[scope] = index
        waivers.append(waiver)
    return waivers


def waivers_for_host(waivers: t.Iterable[Waiver], host: str, groups: t.Iterable[str]) -> list[Waiver]:
    """The waivers that apply to one host; of several for one control, the one that holds longest."""
    groups = list(groups)
    best: dict[str, Waiver] = {}
    for waiver in waivers:
        if waiver.applies_to(host, groups) and (waiver.id not in best or waiver.expires > best[waiver.id].expires):
            best[waiver.id] = waiver
    return list(best.values())


def waiver_from_dict(data: t.Mapping[str, t.Any]) -> Waiver:
    """The inverse of ``Waiver.as_dict`` (the guard hands waivers to the report as plain data)."""
    return Waiver(
        id=str(data["id"]),
        reason=str(data["reason"]),
        expires=datetime.date.fromisoformat(str(data["expires"])),
        hosts=tuple(data.get("hosts") or ()),
        groups=tuple(data.get("groups") or ()),
    )
