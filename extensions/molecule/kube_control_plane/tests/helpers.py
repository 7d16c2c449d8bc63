# SPDX-License-Identifier: GPL-3.0-or-later
"""What the verify tests of this scenario share: the node's name and plain HTTPS requests."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

CONTAINER = "bulwark-mol-control-plane"


def https_status(address: str, port: int, path: str, ca: Path | None = None, cert: tuple[str, str] | None = None) -> int:
    """Status of a GET; anonymous (the way kubelet probes) unless CERT is given. Without CA the
    server's certificate is not verified, as kubelet does not verify it for probes."""
    context = ssl.create_default_context(cafile=str(ca)) if ca else ssl._create_unverified_context()  # noqa: S323
    if cert:
        context.load_cert_chain(*cert)
    request = f"GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((address, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=address) as tls:
            tls.sendall(request)
            return int(tls.recv(64).split()[1])


def anonymous_get(address: str, path: str, pki: Path, cert: tuple[str, str] | None = None) -> int:
    """Status of a GET to the API server, its certificate verified with the cluster CA."""
    return https_status(address, 6443, path, pki / "ca.crt", cert)
