# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for get-pip.py, used by ansible-test to bootstrap pip in its venvs.

ansible-test downloads get-pip.py from a host that is not reachable here, unless a copy is
already in ~/.ansible/test/cache. tools/bootstrap.sh puts this file there, beside a pip wheel
from PyPI, and this script installs pip (and setuptools/wheel unless told not to) from it.
"""
from __future__ import annotations

import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# This file is saved as get_pip_<major>_<minor>.py: use the pip wheel of that version.
VERSION = os.path.basename(__file__)[len("get_pip_"):-len(".py")].replace("_", ".")
WHEELS = glob.glob(os.path.join(HERE, f"pip-{VERSION}-*.whl")) or sorted(glob.glob(os.path.join(HERE, "pip-*.whl")))
sys.path.insert(0, WHEELS[-1])

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if "--no-setuptools" not in sys.argv:
    args.append("setuptools")
if "--no-wheel" not in sys.argv:
    args.append("wheel")

from pip._internal.cli.main import main  # noqa: E402  (importable only after the path insert)

sys.exit(main(["install", "--upgrade", "--force-reinstall", *args]))
