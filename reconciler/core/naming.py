"""Deterministic names neon-fleet gives to the things it creates.

A deterministic name is how a resource is found again after a crash (there are no idempotency
keys in the Neon API), so these functions are part of the contract and must stay stable.
"""

from __future__ import annotations

import hashlib

#: Neon's limit for ``key_name`` (``ApiKeyCreateRequest``/``OrgApiKeyCreateRequest``).
API_KEY_NAME_MAX = 64
#: Separator between the project name and the key name; ``:`` cannot appear in tenant names.
API_KEY_SEPARATOR = ":"
#: Suffix a finalized snapshot restore gives to the branch it replaced.
OLD_BRANCH_SUFFIX = " (old)"
_PROJECT_PART_MAX = 40


def _short(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit``, else a prefix plus ``~`` and an 8-hex digest of it."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9]}~{digest}"


def api_key_prefix(project_name: str) -> str:
    """The prefix every key name of ``project_name`` starts with (how owned keys are known).

    The project part is at most 40 characters (longer names are shortened to a prefix plus a
    digest of the whole name), so at least 23 characters are left for the key part.
    """
    return _short(project_name, _PROJECT_PART_MAX) + API_KEY_SEPARATOR


def api_key_name(project_name: str, key: str) -> str:
    """The Neon ``key_name`` of the tenant key ``key`` of project ``project_name`` (≤64 chars).

    ``{project_name}:{key}`` when that fits; otherwise each part is shortened to a prefix plus
    an 8-hex digest of the whole part, so distinct inputs keep distinct names.
    """
    prefix = api_key_prefix(project_name)
    return prefix + _short(key, API_KEY_NAME_MAX - len(prefix))


def is_old_branch(name: str) -> bool:
    """True for branches a finalized snapshot restore left behind (``main (old)``)."""
    return name.endswith(OLD_BRANCH_SUFFIX)
