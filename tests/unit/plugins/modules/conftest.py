# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One way to run a module in-process: its real ``main()`` with arguments as a task would give
them, through ansible-core's own ``patch_module_args``, and its JSON answer parsed."""

from __future__ import annotations

import json
import types
import typing as t
from pathlib import Path

import pytest

from ansible.module_utils.testing import patch_module_args

ModuleRunner = t.Callable[..., t.Tuple[int, t.Dict[str, t.Any]]]


@pytest.fixture
def run_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> ModuleRunner:
    """``run_module(module, **args)`` -> (exit code, result). ``_ansible_*`` arguments (check mode,
    diff) pass through; the module's temporary directory is a scratch one of the test's."""
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir(exist_ok=True)

    def run(module: types.ModuleType, **args: t.Any) -> tuple[int, dict[str, t.Any]]:
        args.setdefault("_ansible_remote_tmp", str(remote_tmp))
        args.setdefault("_ansible_keep_remote_files", False)
        capsys.readouterr()  # what came before is not this module's answer
        with patch_module_args(args), pytest.raises(SystemExit) as exc:
            module.main()
        return int(exc.value.code or 0), json.loads(capsys.readouterr().out)

    return run
