# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pieces of the lab tests: the lab module on sys.path, the CLI runner, the host checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parents[2] / "lab"
LAB_SCRIPT = LAB_DIR / "bulwark_lab.py"
# The lab runs with the machine's python3, not the test venv's: test it the way it is used.
SYSTEM_PYTHON = "/usr/bin/python3"

# The program is a script, not a package: make `import bulwark_lab` work for the unit tests.
sys.path.insert(0, str(LAB_DIR))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lab: needs root and a running docker engine; FAILS (never skips) without them, "
        "so CI must install docker.io (python3 lab/bulwark_lab.py engine)",
    )


def run_lab(
    *args: str,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    script: Path = LAB_SCRIPT,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run the lab CLI for real and capture its output."""
    return subprocess.run(
        [*prefix, SYSTEM_PYTHON, str(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def lab_host() -> None:
    """Root and a docker engine that answers; anything else is a broken CI setup, not a skip."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (they run docker, mount and runuser)")
    try:
        answer = docker("info", "--format", "{{.ServerVersion}}")
    except FileNotFoundError:
        pytest.fail("the lab tests need docker: run `python3 lab/bulwark_lab.py engine` first")
    if answer.returncode != 0:
        pytest.fail(f"docker does not answer ({answer.stderr.strip()}): run `python3 lab/bulwark_lab.py engine`")


@pytest.fixture(scope="session")
def lab_images(lab_host: None) -> None:
    """All lab images, built once per session (about 70 s cold, well under a second warm)."""
    result = run_lab("images")
    assert result.returncode == 0, result.stdout + result.stderr
