# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import time

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils._secrets import MASK, mask_url_passwords, url_passwords
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "masked", "passwords"),
    [
        ("http://alice:s3cret@proxy:3128", f"http://alice:{MASK}@proxy:3128", {"s3cret"}),
        # The userinfo ends at the last @ of the authority: the whole password is masked.
        ("http://alice:p@ss:w@rd@proxy:3128/x", f"http://alice:{MASK}@proxy:3128/x", {"p@ss:w@rd"}),
        # Without a scheme, as proxies are often written.
        ("alice:s3cret@proxy.example:3128", f"alice:{MASK}@proxy.example:3128", {"s3cret"}),
        ("a,http://u:p1@h1,u2:p2@h2", f"a,http://u:{MASK}@h1,u2:{MASK}@h2", {"p1", "p2"}),
        ("proxy http://u:pw@h and more", f"proxy http://u:{MASK}@h and more", {"pw"}),
        # Nothing to mask.
        ("http://proxy:3128", "http://proxy:3128", set()),
        ("alice@example.com", "alice@example.com", set()),
        ("http://alice@proxy:3128", "http://alice@proxy:3128", set()),
        ("http://h/path:with@at", "http://h/path:with@at", set()),
    ],
)
def test_url_passwords_are_masked_whole(text: str, masked: str, passwords: set[str]) -> None:
    assert mask_url_passwords(text) == masked
    assert url_passwords(text) == passwords


@pytest.mark.parametrize("hostile", ["a:" * 50_000, "u:" + "@" * 100_000, ("x:y@" * 25_000), "http://" + ":@" * 50_000])
def test_a_hundred_kilobytes_take_well_under_a_second(hostile: str) -> None:
    started = time.monotonic()
    mask_url_passwords(hostile)
    url_passwords(hostile)
    assert time.monotonic() - started < 1.0


@settings(max_examples=300, deadline=None, database=None)
@given(
    user=st.text(alphabet="abcxyz09._-", min_size=1, max_size=8),
    password=st.text(alphabet="abcXYZ019!$&'()*+;=:@%~._-", min_size=1, max_size=16),
    host=st.text(alphabet="abcxyz09.-", min_size=1, max_size=12),
    scheme=st.sampled_from(["", "http://", "https://", "socks5://"]),
    tail=st.sampled_from(["", ":3128", ":3128/", "/path"]),
)
def test_a_generated_proxy_url_never_shows_its_password(user: str, password: str, host: str, scheme: str, tail: str) -> None:
    url = f"{scheme}{user}:{password}@{host}{tail}"
    masked = mask_url_passwords(url)
    assert masked == f"{scheme}{user}:{MASK}@{host}{tail}"
    assert url_passwords(url) == {password}
