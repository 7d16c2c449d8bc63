# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Reading the YAML files we edit (static pod manifests, encryption configurations, kubeadm's
ClusterConfiguration) so that what we write back is what the file said.

PyYAML keeps the last of two equal keys in one mapping and drops the first without a word: a
manifest with a second ``command:`` would lose kubeadm's flags, an encryption configuration with a
second ``secret:`` a key. Here a duplicate key is an error with its line, as is YAML nested past
what the parser can follow.
"""

from __future__ import annotations

import typing as t

try:
    import yaml
except ImportError:  # pragma: no cover - the callers check HAS_YAML first
    HAS_YAML = False
    _Loader: t.Any = object
else:
    HAS_YAML = True
    _Loader = yaml.SafeLoader

__all__ = ["HAS_YAML", "YamlError", "load_yaml"]


class YamlError(ValueError):
    """The text is not YAML we can use; the message names WHAT and the line."""


class _StrictLoader(_Loader):  # type: ignore[misc,valid-type]
    def construct_mapping(self, node: t.Any, deep: bool = False) -> t.Any:
        seen: dict[t.Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *base" may repeat keys of the base on purpose
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: the base constructor reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is also on line {seen[key] + 1}; keep one", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, what: str) -> t.Any:
    """The one document in TEXT; YamlError names WHAT, the line and the problem."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1}: {exc.problem or exc.context})" if mark else ""
        raise YamlError(f"{what} is not valid YAML{where}") from exc
    except yaml.YAMLError as exc:
        raise YamlError(f"{what} is not valid YAML ({exc})") from exc
    except RecursionError as exc:
        raise YamlError(f"{what} is nested too deeply to be read") from exc
