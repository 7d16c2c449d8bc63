# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the verify tests: the node's address, the cluster CA and admin credentials on the
controller, and an API client as kubernetes-admin."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from helpers import CONTAINER


@pytest.fixture(scope="session")
def address() -> str:
    inspect = subprocess.run(
        ["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", CONTAINER],
        capture_output=True,
        text=True,
        check=True,
    )
    return inspect.stdout.split()[0]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cluster CA and admin.conf, copied to the controller."""
    directory = tmp_path_factory.mktemp("pki")
    for source, name in (("/etc/kubernetes/pki/ca.crt", "ca.crt"), ("/etc/kubernetes/admin.conf", "admin.conf")):
        subprocess.run(["docker", "cp", f"{CONTAINER}:{source}", str(directory / name)], check=True)
    return directory


@pytest.fixture(scope="session")
def api(pki: Path, address: str) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(str(pki / "admin.conf"), client_configuration=configuration)
    configuration.host = f"https://{address}:6443"
    return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def admin_cert(pki: Path) -> tuple[str, str]:
    """kubernetes-admin's client certificate and key, out of admin.conf."""
    user = yaml.safe_load((pki / "admin.conf").read_text())["users"][0]["user"]
    cert, key = pki / "admin.crt", pki / "admin.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    key.chmod(0o600)
    return str(cert), str(key)
