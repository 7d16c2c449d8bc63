# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""An AnsibleModule that refuses a value of the wrong shape by the option's name.

AnsibleModule's own checks turn a string given for a list of dicts into "dictionary requested,
could not parse JSON or key=value", which names neither the option nor the entry, and split a
string given for a list into its comma-separated parts. This looks at the arguments as they
arrived, before that, with the same rules the roles' guard uses (role_vars.type_problems), and
then runs AnsibleModule's own validation first, so that a failure never echoes the arguments.
"""

from __future__ import annotations

import json
import sys
import typing as t

from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS, AnsibleModule, _load_params
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.bulwark.hardening.plugins.module_utils._secrets import mask_url_passwords
from ansible_collections.bulwark.hardening.plugins.module_utils.role_vars import type_problems

__all__ = ["strict_module"]

# The AnsibleModule keywords that are argument rules, as ArgumentSpecValidator takes them.
_RULES = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


def _problems(argument_spec: dict[str, t.Any], params: t.Mapping[str, t.Any], kwargs: dict[str, t.Any]) -> list[str]:
    problems = type_problems(argument_spec, params, role_variables=False)
    if problems:
        return problems
    # AnsibleModule's own validation, run first: when it fails, AnsibleModule answers with every
    # argument echoed, before a module can tell it which values are secrets (a password in a URL).
    spec = dict(argument_spec)
    if kwargs.get("add_file_common_args"):
        spec.update({key: value for key, value in FILE_COMMON_ARGUMENTS.items() if key not in spec})
    validator = ArgumentSpecValidator(spec, **{key: kwargs[key] for key in _RULES if kwargs.get(key)})
    result = validator.validate({key: value for key, value in params.items() if not str(key).startswith("_ansible_")})
    return [str(error) for error in result.errors]


def strict_module(argument_spec: dict[str, t.Any], **kwargs: t.Any) -> AnsibleModule:
    """``AnsibleModule(argument_spec, **kwargs)``, once every option has a value of its type and every
    list and dict option is a list or a dict."""
    params = _load_params()
    # Not a mapping only where a tool imports the module to read its spec (ansible-test's validate-modules).
    problems = _problems(argument_spec, params, kwargs) if isinstance(params, t.Mapping) else []
    if problems:
        # Answered the way fail_json answers, but before AnsibleModule exists, so without its echo
        # of the arguments: no option's value, secret or not, reaches the output.
        sentences = [problem if problem.endswith(".") else problem + "." for problem in problems]
        msg = mask_url_passwords(" ".join(sentences) + " Nothing was changed.")
        print(json.dumps({"failed": True, "msg": msg}))  # pylint: disable=ansible-bad-function
        sys.exit(1)  # pylint: disable=ansible-bad-function
    return AnsibleModule(argument_spec=argument_spec, **kwargs)
