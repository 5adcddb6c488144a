"""Deterministic API key names stay within Neon's 64 characters and stay distinct."""

from __future__ import annotations

from reconciler.core.naming import API_KEY_NAME_MAX, api_key_name, api_key_prefix, is_old_branch


def test_short_names_are_project_colon_key() -> None:
    assert api_key_name("cust-1", "app") == "cust-1:app"
    assert api_key_prefix("cust-1") == "cust-1:"


def test_long_names_are_shortened_distinctly_and_keep_the_prefix() -> None:
    long_a = "tenant-" + "a" * 80
    long_b = "tenant-" + "a" * 79 + "b"
    names = {api_key_name(p, k) for p in (long_a, long_b) for k in ("app", "x" * 90, "x" * 91)}
    assert len(names) == 6
    for project in (long_a, long_b):
        for key in ("app", "x" * 90):
            name = api_key_name(project, key)
            assert len(name) <= API_KEY_NAME_MAX
            assert name.startswith(api_key_prefix(project))
    assert api_key_name(long_a, "app") == api_key_name(long_a, "app")


def test_old_branches_are_recognised() -> None:
    assert is_old_branch("main (old)")
    assert not is_old_branch("main")
