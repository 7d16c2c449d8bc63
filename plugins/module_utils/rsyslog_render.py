# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""rsyslog drop-ins for shipping logs over RELP with mutual TLS, and for receiving them: pure.

Why these settings (each one closes a way rsyslog's defaults lose messages):

- The journal is read with imjournal, which keeps a cursor in a state file, so a restart neither
  loses nor repeats what it had read; its rate limit is off. journald's own forwarding to the
  syslog socket drops messages when the socket is full ("Forwarding to syslog missed N
  messages"), which is why the log_shipping role turns it off and lifts journald's rate limit.
- The forwarding action has a disk-assisted queue (``queue.filename``) that spills to disk when
  the collector is away, is saved on shutdown and read back at start, retries for ever
  (``action.resumeRetryCount=-1``), and is capped on disk by ``queue.maxDiskSpace``. When even that
  is full it blocks the inputs instead of discarding (``queue.timeoutEnqueue`` of about 24 days;
  rsyslog's default discards after 2 s, and 0 discards at once), and discards no severity
  (``queue.discardSeverity=8``); the journal and the files keep what waits.
- RELP acknowledges every message, so a dropped connection resends what was not acknowledged;
  plain TCP would lose what was in flight.
- Both ends authenticate with certificates (``tls.authmode=name``) and accept listed peer names only.

Every value is checked here; a bad one raises RsyslogRenderError naming the option. Values are
written between double quotes, so none may contain quotes, backslashes or newlines.
"""

from __future__ import annotations

import re
import typing as t

__all__ = ["RsyslogRenderError", "forwarding_config", "receiver_config", "required_files"]

HEADER = "# Written by bulwark.hardening ({role}); changes here are overwritten.\n"
_HOST = re.compile(r"^(?=.{1,253}\Z)[A-Za-z0-9*]([A-Za-z0-9*-]{0,62})(\.[A-Za-z0-9*]([A-Za-z0-9-]{0,62}))*\.?\Z|^[0-9a-fA-F:.]{2,45}\Z")
_PATH = re.compile(r'^/[^"\\\n\x00]*\Z')
_SIZE = re.compile(r"^[1-9][0-9]*[kmg]?\Z")
_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,32}\Z")
FORMATS = ("rfc5424", "json")
BLOCK_MS = 2**31 - 1  # the longest wait rsyslog takes: a full queue blocks rather than discards
# JSON lines that Logstash and Splunk ingest as they are: one object per message.
_JSON_TEMPLATE = """template(name="bulwark_json" type="list" option.jsonf="on") {
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="program" name="programname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
"""


class RsyslogRenderError(ValueError):
    """An option cannot be written into the configuration; the message names it."""


def _path(value: t.Any, where: str) -> str:
    if not isinstance(value, str) or not _PATH.match(value):
        raise RsyslogRenderError(f"{where}: {value!r} is not an absolute path (without quotes, backslashes or newlines).")
    return value


def _host(value: t.Any, where: str) -> str:
    if not isinstance(value, str) or not _HOST.match(value):
        raise RsyslogRenderError(f"{where}: {value!r} is not a host name or address.")
    return value


def _port(value: t.Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise RsyslogRenderError(f"{where}: {value!r} is not a port (1 to 65535).")
    return value


def _peers(value: t.Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RsyslogRenderError(f"{where}: list the certificate names to accept, such as [collector.example.com]; an empty list accepts no one.")
    return [_host(peer, f"{where}[{index}]") for index, peer in enumerate(value)]


def _tls(tls: t.Any, where: str) -> dict[str, str]:
    if not isinstance(tls, t.Mapping):
        raise RsyslogRenderError(f"{where}: give ca, cert and key, the paths of the CA certificate, this host's certificate and its key.")
    return {key: _path(tls.get(key), f"{where}.{key}") for key in ("ca", "cert", "key")}


def _tls_params(tls: dict[str, str], peers: list[str], indent: str) -> str:
    quoted = ", ".join(f'"{peer}"' for peer in peers)
    return (
        f'{indent}tls="on" tls.cacert="{tls["ca"]}" tls.mycert="{tls["cert"]}" tls.myprivkey="{tls["key"]}"\n'
        f'{indent}tls.authmode="name" tls.permittedpeer=[{quoted}]'
    )


def required_files(options: t.Mapping[str, t.Any]) -> list[str]:
    """The files the configuration reads (the certificates and key), which must exist before it is installed."""
    return list(_tls(options.get("tls"), "tls").values())


def receiver_config(options: t.Mapping[str, t.Any]) -> str:
    """An imrelp input on ``port`` that accepts ``permitted_peers`` only, writing one file per sending host.

    The directory is named after the peer's address as rsyslog resolves it (``fromhost``, made safe
    for a path), never after a name the sender writes in its messages.
    """
    port = _port(options.get("port", 2514), "port")
    tls = _tls(options.get("tls"), "tls")
    peers = _peers(options.get("permitted_peers"), "permitted_peers")
    directory = _path(options.get("directory", "/var/log/remote"), "directory").rstrip("/")
    return (
        HEADER.format(role="log_receiver")
        + 'module(load="imrelp" tls.tlslib="openssl")\n'
        + f'template(name="bulwark_remote_file" type="string" string="{directory}/%FROMHOST:::secpath-replace%/messages.log")\n'
        + 'ruleset(name="bulwark_remote") {\n'
        + '  action(type="omfile" dynaFile="bulwark_remote_file" template="RSYSLOG_FileFormat" dirCreateMode="0750" fileCreateMode="0640")\n'
        + "  stop\n"
        + "}\n"
        + f'input(type="imrelp" port="{port}" ruleset="bulwark_remote"\n'
        + _tls_params(tls, peers, "      ")
        + ")\n"
    )


def _sources(sources: t.Any) -> str:
    if not isinstance(sources, t.Mapping):
        raise RsyslogRenderError("sources: give a mapping, such as {journald: true, files: []}.")
    text = ""
    if sources.get("journald", True):
        text += 'module(load="imjournal" StateFile="bulwark-imjournal.state" Ratelimit.Interval="0" IgnorePreviousMessages="on")\n'
    files = sources.get("files") or []
    if not isinstance(files, list):
        raise RsyslogRenderError("sources.files: give a list of {path, tag}.")
    if files:
        text += 'module(load="imfile")\n'
    for index, entry in enumerate(files):
        where = f"sources.files[{index}]"
        if not isinstance(entry, t.Mapping):
            raise RsyslogRenderError(f"{where}: give path and tag.")
        path = _path(entry.get("path"), f"{where}.path")
        tag = entry.get("tag")
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise RsyslogRenderError(f"{where}.tag: {tag!r} is not a tag of letters, digits, '.', '_' or '-' (32 at most).")
        # reopenOnTruncate and the state imfile keeps in the work directory carry a file across rotation.
        text += f'input(type="imfile" File="{path}" Tag="{tag}:" Facility="local6" reopenOnTruncate="on" addMetadata="on")\n'
    return text


def forwarding_config(options: t.Mapping[str, t.Any]) -> str:
    """The sources, and one RELP action with a disk-assisted queue that forwards every message."""
    collectors = options.get("collectors")
    if not isinstance(collectors, list) or not collectors:
        raise RsyslogRenderError("collectors: list at least one collector, such as [{host: logs.example.com}].")
    if len(collectors) > 1:
        raise RsyslogRenderError("collectors: one collector for now; failover to a second is not built yet.")
    collector = collectors[0]
    if not isinstance(collector, t.Mapping):
        raise RsyslogRenderError("collectors[0]: give host, and optionally port and permitted_peers.")
    host = _host(collector.get("host"), "collectors[0].host")
    port = _port(collector.get("port", 2514), "collectors[0].port")
    peers = _peers(collector.get("permitted_peers") or [host], "collectors[0].permitted_peers")
    tls = _tls(options.get("tls"), "tls")
    queue = options.get("queue") or {}
    if not isinstance(queue, t.Mapping):
        raise RsyslogRenderError("queue: give a mapping, such as {max_disk_space: 1g}.")
    disk = str(queue.get("max_disk_space", "1g")).lower()
    if not _SIZE.match(disk):
        raise RsyslogRenderError(f"queue.max_disk_space: {disk!r} is not a size such as 512m or 2g.")
    size = queue.get("size", 100000)
    if isinstance(size, bool) or not isinstance(size, int) or not 1000 <= size <= 10_000_000:
        raise RsyslogRenderError(f"queue.size: {size!r} is not a number of messages from 1000 to 10000000.")
    output = options.get("format", "rfc5424")
    if output not in FORMATS:
        raise RsyslogRenderError(f"format: {output!r} is not one of {', '.join(FORMATS)}.")
    template = "bulwark_json" if output == "json" else "RSYSLOG_SyslogProtocol23Format"
    return (
        HEADER.format(role="log_shipping")
        + _sources(options.get("sources", {}))
        + 'module(load="omrelp" tls.tlslib="openssl")\n'
        + (_JSON_TEMPLATE if output == "json" else "")
        + f'*.* action(type="omrelp" name="bulwark_forward" target="{host}" port="{port}" template="{template}"\n'
        + _tls_params(tls, peers, "      ")
        + "\n"
        + '      queue.type="LinkedList" queue.filename="bulwark_forward" queue.saveOnShutdown="on"\n'
        + f'      queue.size="{size}" queue.maxDiskSpace="{disk}" queue.timeoutEnqueue="{BLOCK_MS}" queue.discardSeverity="8"\n'
        + '      action.resumeRetryCount="-1" action.resumeInterval="5")\n'
    )
