"""Customization API: account and household settings (resolved with sources, limits named,
409 on a stale version, knobs hidden from advisors), saved filters, bulk changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account, BulkChange, SavedFilter, SettingsVersion
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.program.conftest import LC, Program, program_build

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
JSON = "application/json"


@pytest.fixture
def program(cast: Cast) -> Program:
    return program_build(cast)


def _put(client: Client, url: str, data: Any) -> Any:
    return client.put(url, data, content_type=JSON)


def _post(client: Client, url: str, data: Any) -> Any:
    return client.post(url, data, content_type=JSON)


def test_account_settings_read_save_and_sources(program: Program, client_for: ClientFor) -> None:
    account = program.cast.account_a1
    url = reverse("api:account-settings-detail", args=[account.pk])
    client = client_for(program.advisor)
    first = client.get(url).json()
    assert first["version"] == 0 and first["own"] == {}
    assert first["resolved"]["status"] == "no_strategy"
    assert first["knobs"] is None  # advisors never see optimizer knobs
    saved = _put(
        client,
        url,
        {
            "content": {"strategy": program.strategy.pk, "tilts": {LC: "0.02"}},
            "expected_version": 0,
            "reason": "new client",
        },
    )
    assert saved.status_code == 200, saved.content
    body = saved.json()
    assert body["version"] == 1
    tilts = next(s for s in body["resolved"]["settings"] if s["name"] == "tilts")
    assert tilts == {"name": "tilts", "value": {LC: "0.02"}, "source": "account v1"}
    assert abs(sum(t["weight"] for t in body["resolved"]["targets"]) - 0.95) < 1e-6
    knobs = client_for(program.ipc).get(url).json()["knobs"]
    assert knobs and all("field" in k and "why" in k for k in knobs)


def test_account_settings_limit_conflict_and_roles(program: Program, client_for: ClientFor) -> None:
    account = program.cast.account_a1
    url = reverse("api:account-settings-detail", args=[account.pk])
    program.choose(account, {"strategy": program.strategy.pk})
    client = client_for(program.advisor)
    beyond = _put(
        client,
        url,
        {
            "content": {"strategy": program.strategy.pk, "cash_target": "0.2"},
            "expected_version": 1,
            "reason": "more cash",
        },
    )
    assert beyond.status_code == 400
    assert "beyond the limit of 10 % (firm limits v1)" in beyond.json()["cash_target"][0]
    stale = _put(
        client,
        url,
        {"content": {"strategy": program.strategy.pk}, "expected_version": 0, "reason": "r"},
    )
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]
    ipc = _put(
        client_for(program.ipc),
        url,
        {"content": {}, "expected_version": 1, "reason": "r"},
    )
    assert ipc.status_code == 403
    other = client_for(program.cast.admin_b).get(url)
    assert other.status_code == 404
    assert SettingsVersion.objects.filter(account=account).count() == 1


def test_household_settings_side_by_side(program: Program, client_for: ClientFor) -> None:
    cast = program.cast
    url = reverse("api:household-settings-detail", args=[cast.hh_a1.pk])
    client = client_for(program.advisor)
    saved = _put(
        client,
        url,
        {"content": {"tax_sensitivity": "maximum"}, "expected_version": 0, "reason": "family"},
    )
    assert saved.status_code == 200, saved.content
    accounts = saved.json()["accounts"]
    assert [a["account"] for a in accounts] == list(
        Account.objects.filter(household=cast.hh_a1)
        .order_by("custodian", "account_number", "pk")
        .values_list("pk", flat=True)
    )
    tax = next(s for s in accounts[0]["settings"] if s["name"] == "tax_sensitivity")
    assert tax == {"name": "tax_sensitivity", "value": "maximum", "source": "household v1"}
    bad = _put(
        client,
        url,
        {"content": {"strategy": program.strategy.pk}, "expected_version": 1, "reason": "r"},
    )
    assert bad.status_code == 400 and "strategy" in bad.json()


def test_saved_filters_crud_and_owner_only(cast: Cast, client_for: ClientFor) -> None:
    advisor = client_for(cast.user(Role.ADVISOR))
    url = reverse("api:saved-filter-list")
    created = _post(
        advisor, url, {"name": "Active", "criteria": {"status": "active"}, "shared": True}
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    bad = _post(advisor, url, {"name": "Bad", "criteria": {"status": "bogus"}})
    assert bad.status_code == 400 and "status" in bad.json()
    bad_key = _post(advisor, url, {"name": "Bad", "criteria": {"colour": "red"}})
    assert bad_key.status_code == 400 and "colour" in bad_key.json()
    admin = client_for(cast.user(Role.FIRM_ADMIN))
    assert [f["name"] for f in admin.get(url).json()["results"]] == ["Active"]
    detail = reverse("api:saved-filter-detail", args=[pk])
    assert admin.delete(detail).status_code == 403
    renamed = _put(advisor, detail, {"name": "Active accounts", "criteria": {"status": "active"}})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Active accounts"
    assert client_for(cast.admin_b).get(detail).status_code == 404
    assert advisor.delete(detail).status_code == 204
    assert not SavedFilter.objects.exists()


def test_bulk_preview_apply_reverse(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.FIRM_ADMIN))
    body = {
        "criteria": {"status": "active"},
        "operation": {"op": "set", "choice": "tax_sensitivity", "value": "maximum"},
        "exemptions": [{"account": cast.account_a2.pk, "reason": "client declined"}],
    }
    active = Account.objects.filter(firm=cast.firm_a, status="active").count()
    preview = _post(client, reverse("api:bulk-change-preview"), body)
    assert preview.status_code == 200, preview.content
    data = preview.json()
    assert data["matched"] == active and data["exempt"] == 1 and data["to_change"] == active - 1
    assert not SettingsVersion.objects.exists()
    no_reason = _post(client, reverse("api:bulk-change-list"), body)
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    applied = _post(client, reverse("api:bulk-change-list"), {**body, "reason": "policy"})
    assert applied.status_code == 201, applied.content
    account = Account.objects.select_related("settings_version").get(pk=cast.account_a1.pk)
    assert account.settings_version is not None
    assert account.settings_version.content["tax_sensitivity"] == "maximum"
    assert not SettingsVersion.objects.filter(account=cast.account_a2).exists()
    listed = client.get(reverse("api:bulk-change-list")).json()["results"]
    assert [b["id"] for b in listed] == [applied.json()["id"]]
    reverse_url = reverse("api:bulk-change-reverse", args=[applied.json()["id"]])
    reversed_ = _post(client, reverse_url, {"reason": "undo"})
    assert reversed_.status_code == 201
    account = Account.objects.select_related("settings_version").get(pk=cast.account_a1.pk)
    assert account.settings_version is not None
    assert "tax_sensitivity" not in account.settings_version.content
    again = _post(client, reverse_url, {"reason": "undo twice"})
    assert again.status_code == 400 and "already reversed" in again.json()["detail"][0]
    assert BulkChange.objects.count() == 2


def test_bulk_bad_operation_and_roles(cast: Cast, client_for: ClientFor) -> None:
    body = {"criteria": {"status": "active"}, "operation": {"op": "explode"}}
    admin = client_for(cast.user(Role.FIRM_ADMIN))
    bad = _post(admin, reverse("api:bulk-change-preview"), body)
    assert bad.status_code == 400 and "op" in bad.json()
    ipc = client_for(cast.user(Role.IPC))
    assert ipc.get(reverse("api:bulk-change-list")).status_code == 403
    compliance = client_for(cast.user(Role.COMPLIANCE))
    applied = _post(
        compliance,
        reverse("api:bulk-change-list"),
        {
            "criteria": {"status": "active"},
            "operation": {"op": "set", "choice": "min_trade", "value": "10"},
            "reason": "r",
        },
    )
    assert applied.status_code == 403
    assert not BulkChange.objects.exists()


def test_a_nul_in_a_bulk_exemption_is_a_400(cast: Cast, client_for: ClientFor) -> None:
    response = _post(
        client_for(cast.user(Role.FIRM_ADMIN)),
        reverse("api:bulk-change-list"),
        {
            "criteria": {"status": "active"},
            "operation": {"op": "set", "choice": "min_trade", "value": "10"},
            "exemptions": [{"account": cast.account_a2.pk, "reason": "a\u0000b"}],
            "reason": "r",
        },
    )
    assert response.status_code == 400 and "exemptions[0].reason" in response.json()
    assert not BulkChange.objects.exists()


def test_firm_settings_read_by_all_saved_by_the_ipc(
    program: Program, client_for: ClientFor
) -> None:
    url = reverse("api:firm-settings")
    body = {"content": {"loss_harvesting": "off"}, "expected_version": 0, "reason": "policy"}
    assert _put(client_for(program.advisor), url, body).status_code == 403
    saved = _put(client_for(program.ipc), url, body)
    assert saved.status_code == 200 and saved.json() == {
        "version": 1,
        "own": {"loss_harvesting": "off"},
    }
    assert _put(client_for(program.ipc), url, body).status_code == 409
    assert client_for(program.advisor).get(url).json()["version"] == 1
    assert client_for(program.cast.admin_b).get(url).json()["version"] == 0
