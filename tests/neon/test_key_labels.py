"""A 401 or 403 names the key's environment variable and org, never the key itself; and an
error that is not retried is not announced as a retry."""

from __future__ import annotations

import copy
import logging
import pickle

import httpx
import pytest

from reconciler import errors
from reconciler.credentials import Credentials, credentials_from_env
from reconciler.neon.apikey import ApiKey, key_label
from tests.core.factories import ORG_FREE, ORG_PAID, fleet_config
from tests.neon.fakes import make_client

ENVIRON = {
    "NEON_FREE_ORG_KEY": "napi_free_secret_0001",
    "NEON_PAID_ORG_KEY": "napi_paid_secret_0002",
    "NEON_PERSONAL_KEY": "napi_personal_secret_0003",
}


def _answer(status: int) -> httpx.Response:
    return httpx.Response(status, json={"code": "", "message": "refused by the test"})


def test_invalid_key_error_names_the_variable_and_org() -> None:
    credentials = credentials_from_env(fleet_config(), ENVIRON)
    client, _ = make_client(lambda request: _answer(401))
    with pytest.raises(errors.Unauthorized) as info:
        client.list_projects(credentials.org_key(ORG_PAID), org_id=ORG_PAID)
    message = str(info.value)
    assert (
        f"https://neon.test:443 rejected the org key in NEON_PAID_ORG_KEY (org paid, {ORG_PAID})"
        in message
    )
    assert not any(token in message for token in ENVIRON.values())


def test_invalid_personal_key_error_names_the_variable() -> None:
    credentials = credentials_from_env(fleet_config(), ENVIRON)
    client, _ = make_client(lambda request: _answer(401))
    with pytest.raises(errors.Unauthorized) as info:
        client.get_auth(credentials.transfer_key())
    assert "rejected the personal key in NEON_PERSONAL_KEY" in str(info.value)
    assert ENVIRON["NEON_PERSONAL_KEY"] not in str(info.value)


def test_forbidden_names_the_key_that_may_not_do_it() -> None:
    credentials = credentials_from_env(fleet_config(), ENVIRON)
    client, _ = make_client(lambda request: _answer(403))
    with pytest.raises(errors.Forbidden) as info:
        client.get_project(credentials.org_key(ORG_FREE), "p-1")
    assert f"the org key in NEON_FREE_ORG_KEY (org free, {ORG_FREE}) may not do this" in str(
        info.value
    )


def test_keys_without_an_environment_variable_are_labelled_by_their_source() -> None:
    sandbox = Credentials(
        org_keys={ORG_FREE: "sandbox-token"},
        personal_key="sandbox-personal",
        org_key_sources={ORG_FREE: "the sandbox key file"},
        personal_key_source="the sandbox key file",
    )
    assert key_label(sandbox.org_key(ORG_FREE)) == (
        f"the key of org {ORG_FREE} from the sandbox key file"
    )
    assert key_label(sandbox.transfer_key()) == "the personal key from the sandbox key file"


def test_a_labelled_key_is_the_token_on_the_wire_and_hidden_in_repr() -> None:
    key = ApiKey("napi_secret", "the org key in K (org a, org-1)")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return _answer(404)

    client, _ = make_client(handler)
    with pytest.raises(errors.NotFound):
        client.get_project(key, "p-1")
    assert seen == ["Bearer napi_secret"]
    assert "napi_secret" not in repr(key) and "org-1" in repr(key)
    for clone in (copy.copy(key), pickle.loads(pickle.dumps(key))):
        assert clone == "napi_secret" and key_label(clone) == key.label


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_non_retried_errors_are_not_announced_as_retries(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.neon")
    client, fake = make_client(lambda request: _answer(status))
    with pytest.raises(errors.ApiClientError) as info:
        client.get_project("k", "p-1")
    assert info.value.status == status and fake.sleeps == []
    assert [r for r in caplog.records if r.name == "reconciler.neon"] == []
