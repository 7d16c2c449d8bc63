# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The API server, for the modules that read RBAC and ask it questions: I/O, not pure.

Credentials are kubernetes.core's: the same options, environment variables (``K8S_AUTH_*``) and
kubeconfig handling as its modules, through its ``get_api_client``. Objects are read as plain
JSON in pages (the typed client's models cost more than the audit itself on a large cluster),
and every failure is one sentence that says what could not be read and why.
"""

from __future__ import annotations

import json
import re
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:  # the module's own check reports what is missing
    AUTH_ARG_SPEC = {}

try:
    import kubernetes
    import urllib3

    IMPORT_ERROR: Exception | None = None
except ImportError as exc:
    IMPORT_ERROR = exc

__all__ = ["ApiError", "Api", "k8s_module", "warning_texts"]

PAGE = 500
TIMEOUT_S = 30


def k8s_module(options: dict[str, dict[str, t.Any]]) -> AnsibleModule:
    """The module, with kubernetes.core's connection options beside OPTIONS; fails when the library is missing."""
    module = strict_module({**AUTH_ARG_SPEC, **options}, supports_check_mode=True)
    if IMPORT_ERROR is not None or not AUTH_ARG_SPEC:
        module.fail_json(msg=missing_required_lib("kubernetes (and the kubernetes.core collection)"), exception=str(IMPORT_ERROR))
    return module


class ApiError(Exception):
    """The API server could not be reached or refused a request; the message is shown as is."""


_WARNING = re.compile(r'^\d{3} \S+ "((?:[^"\\]|\\.)*)"')


def warning_texts(headers: t.Sequence[str]) -> list[str]:
    """The texts of ``Warning`` headers (RFC 7234: ``299 - "text"``), unquoted."""
    texts = []
    for header in headers:
        match = _WARNING.match(header.strip())
        texts.append(re.sub(r"\\(.)", r"\1", match.group(1)) if match else header.strip())
    return texts


def _status_message(body: t.Any) -> str:
    try:
        return str(json.loads(body).get("message") or "").strip()
    except (TypeError, ValueError, AttributeError):
        return ""


class Api:
    """A connection to one API server, from kubernetes.core's authentication options."""

    def __init__(self, params: t.Mapping[str, t.Any]) -> None:
        auth = {key: params.get(key) for key in AUTH_ARG_SPEC}
        self.where = f"at {auth['host']}" if auth.get("host") else "the kubeconfig names"
        try:
            # kubernetes.core's client asks the server for its version here.
            self.client = get_api_client(**auth).client.client
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError) as exc:
            raise self._error(exc, "read its version") from exc
        except (CoreException, kubernetes.config.ConfigException, OSError, TypeError, ValueError) as exc:
            raise ApiError(f"cannot build a client for the API server from the connection options: {exc}") from exc
        self.where = f"at {self.client.configuration.host}"
        # The Warning headers of the last response: the API server's admission warnings, such as
        # Pod Security's list of running pods a new namespace label would refuse.
        self.last_warnings: list[str] = []

    def _error(self, exc: Exception, what: str) -> ApiError:
        if isinstance(exc, urllib3.exceptions.HTTPError):
            # MaxRetryError's reason, without the connection object's repr.
            cause = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>: ", "", str(getattr(exc, "reason", None) or exc))
            return ApiError(f"cannot reach the API server {self.where} to {what}: {cause}")
        status = getattr(exc, "status", None)
        reason = _status_message(getattr(exc, "body", None)) or f"{status} {getattr(exc, 'reason', '')}".strip()
        if status == 401:
            return ApiError(f"the API server {self.where} did not accept the credentials: {reason}")
        if status == 403:
            return ApiError(f"the credentials may not {what} on the API server {self.where}: {reason}")
        return ApiError(f"the API server {self.where} refused to {what}: {reason}")

    def _call(self, method: str, path: str, what: str, **kwargs: t.Any) -> t.Any:
        try:
            response = self.client.call_api(
                path,
                method,
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=TIMEOUT_S,
                **kwargs,
            )
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError) as exc:
            raise self._error(exc, what) from exc
        getlist = getattr(response.headers, "getlist", None)
        self.last_warnings = warning_texts(getlist("Warning") if getlist else [])
        return json.loads(response.data)

    def get(self, path: str, what: str) -> dict[str, t.Any]:
        result: dict[str, t.Any] = self._call("GET", path, what)
        return result

    def list(self, path: str, what: str, field_selector: str = "") -> list[dict[str, t.Any]]:
        """Every item of a list endpoint (``/apis/rbac.authorization.k8s.io/v1/roles``), page by page."""
        items: list[dict[str, t.Any]] = []
        token = ""
        while True:
            query: list[tuple[str, t.Any]] = [("limit", PAGE)] + ([("continue", token)] if token else [])
            if field_selector:
                query.append(("fieldSelector", field_selector))
            page = self._call("GET", path, what, query_params=query)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def create(self, path: str, body: t.Mapping[str, t.Any], what: str, dry_run: bool = False) -> dict[str, t.Any]:
        result: dict[str, t.Any] = self._call("POST", path, what, body=dict(body), query_params=_dry(dry_run))
        return result

    def replace(self, path: str, body: t.Mapping[str, t.Any], what: str, dry_run: bool = False) -> dict[str, t.Any]:
        result: dict[str, t.Any] = self._call("PUT", path, what, body=dict(body), query_params=_dry(dry_run))
        return result

    def delete(self, path: str, what: str, dry_run: bool = False) -> None:
        self._call("DELETE", path, what, query_params=_dry(dry_run))


def _dry(dry_run: bool) -> list[tuple[str, str]]:
    """The query of a server-side dry run: admission and validation run, nothing is stored."""
    return [("dryRun", "All")] if dry_run else []
