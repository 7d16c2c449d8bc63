# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""An AnsibleModule that refuses a value of the wrong shape by the option's name.

AnsibleModule's own checks turn a string given for a list of dicts into "dictionary requested,
could not parse JSON or key=value", which names neither the option nor the entry, and split a
string given for a list into its comma-separated parts. This looks at the arguments as they
arrived, before that, with the same rules the roles' guard uses (role_vars.type_problems); and
when AnsibleModule's own validation refuses an argument, the answer echoes no argument.
"""

from __future__ import annotations

import json
import sys
import typing as t

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.bulwark.hardening.plugins.module_utils._secrets import mask_url_passwords
from ansible_collections.bulwark.hardening.plugins.module_utils.role_vars import type_problems

__all__ = ["strict_module"]

REFUSED = " Nothing was changed."


class _StrictModule(AnsibleModule):
    """An AnsibleModule whose own argument validation, when it refuses an argument, names it and
    echoes no argument: it runs before a module can say which values are secrets (a password in
    a URL), and AnsibleModule would answer with every argument as it came."""

    validated = False

    def fail_json(self, msg: str, **kwargs: t.Any) -> t.NoReturn:
        if not self.validated:
            kwargs["invocation"] = {"module_args": {}}
            kwargs.pop("msg_to_log", None)  # the arguments again, as syslog would have had them
            msg = mask_url_passwords(msg.rstrip(".") + "." + REFUSED)
        super().fail_json(msg=msg, **kwargs)


def strict_module(argument_spec: dict[str, t.Any], **kwargs: t.Any) -> AnsibleModule:
    """``AnsibleModule(argument_spec, **kwargs)``, once every list and dict option is a list or a dict."""
    params = _load_params()
    # Not a mapping only where a tool imports the module to read its spec (ansible-test's validate-modules).
    problems = type_problems(argument_spec, params, role_variables=False) if isinstance(params, t.Mapping) else []
    if problems:
        # Answered the way fail_json answers, but before AnsibleModule exists, so without its echo
        # of the arguments: no option's value, secret or not, reaches the output.
        print(json.dumps({"failed": True, "msg": " ".join(problems) + REFUSED}))  # pylint: disable=ansible-bad-function
        sys.exit(1)  # pylint: disable=ansible-bad-function
    module = _StrictModule(argument_spec=argument_spec, **kwargs)
    module.validated = True
    return module
