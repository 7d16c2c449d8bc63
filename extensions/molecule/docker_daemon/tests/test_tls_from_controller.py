# SPDX-License-Identifier: GPL-3.0-or-later
"""Reach the hardened daemon from the controller, as an operator would: over TLS, with and
without the right client certificate, and with a protocol older than the daemon allows.

The daemon's port 2376 is published on the controller's loopback; the certificates are the ones
the role made in the scenario's PKI directory (converge.yml)."""
from __future__ import annotations

import datetime
import os
import socket
import ssl
from pathlib import Path

import docker
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONTAINER = "bulwark-mol-docker-host"
PKI = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki"
ALICE = PKI / "clients" / "alice"


@pytest.fixture(scope="module")
def port() -> int:
    # The controller's own engine tells where the target's 2376 is published.
    local = docker.APIClient(base_url="unix:///var/run/docker.sock")
    return int(local.port(CONTAINER, 2376)[0]["HostPort"])


def tls_client(port: int, cert: tuple[str, str] | None) -> docker.DockerClient:
    tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=str(PKI / "ca.pem"), verify=True)
    client = docker.DockerClient(base_url=f"https://127.0.0.1:{port}", tls=tls, version="1.41", timeout=10)
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override our CA (docs/troubleshooting.md).
    client.api.trust_env = False
    return client


def foreign_client_cert(directory: Path) -> tuple[str, str]:
    """A client certificate signed by a CA the daemon has never seen."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foreign CA")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def handshake(port: int, version: ssl.TLSVersion, cert: tuple[str, str] | None) -> str:
    """Complete a TLS handshake and one request at exactly `version`; return the TLS version used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = context.maximum_version = version
    # Let this client really offer old protocols and ciphers: the server must be the one to refuse.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_verify_locations(str(PKI / "ca.pem"))
    if cert:
        context.load_cert_chain(*cert)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert tls.recv(64).startswith(b"HTTP/1.1 200")
            return tls.version()


def test_operator_certificate_reaches_the_api(port):
    version = tls_client(port, (str(ALICE / "cert.pem"), str(ALICE / "key.pem"))).version()
    assert version["ApiVersion"]


# The server's alert (bad certificate / certificate required), not a failure of our own
# verification of the server: that would be CERTIFICATE_VERIFY_FAILED and fail these tests.
REFUSED_BY_SERVER = "ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE_REQUIRED"


def test_client_without_certificate_is_refused(port):
    with pytest.raises(requests.exceptions.SSLError, match=REFUSED_BY_SERVER):
        tls_client(port, None).version()


def test_certificate_from_another_ca_is_refused(port, tmp_path):
    with pytest.raises(requests.exceptions.SSLError, match=REFUSED_BY_SERVER):
        tls_client(port, foreign_client_cert(tmp_path)).version()


def test_tls12_handshake_with_operator_certificate_succeeds(port):
    # The control for the next test: the same client, at TLS 1.2, gets through.
    assert handshake(port, ssl.TLSVersion.TLSv1_2, (str(ALICE / "cert.pem"), str(ALICE / "key.pem"))) == "TLSv1.2"


def test_tls11_client_is_refused_by_the_server(port):
    with pytest.raises(ssl.SSLError) as refused:
        handshake(port, ssl.TLSVersion.TLSv1_1, (str(ALICE / "cert.pem"), str(ALICE / "key.pem")))
    # The daemon answered with a protocol-version alert; a client that could not even offer
    # TLS 1.1 would fail differently (NO_PROTOCOLS_AVAILABLE) and fail this test.
    assert "PROTOCOL_VERSION" in str(refused.value).upper() or "UNSUPPORTED_PROTOCOL" in str(refused.value).upper()
