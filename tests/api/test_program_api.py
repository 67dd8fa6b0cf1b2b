"""The program's API: asset classes, definitions (effective model with provenance, versions,
the version check, bad input writing nothing), publishing, subscriptions, impact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from models_hub.models import AssetClass, Definition, DefinitionKind, DefinitionVersion
from models_hub.program_services import definition_create
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import member
from tests.program.conftest import CASH, CORE, LC, Program, program_build

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
JSON = "application/json"


@pytest.fixture
def program(cast: Cast) -> Program:
    return program_build(cast)


def _post(client: Client, url: str, data: Any) -> Any:
    return client.post(url, data, content_type=JSON)


def test_asset_classes_list_and_create_by_path(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.ipc)
    paths = [c["path"] for c in client.get(reverse("api:asset-class-list")).json()["results"]]
    assert paths == [CASH, "Equity", "Equity > US", LC, "Fixed Income", CORE]
    created = _post(client, reverse("api:asset-class-list"), {"path": "Equity > Intl"})
    assert created.status_code == 201 and created.json()["path"] == "Equity > Intl"
    bad = _post(client, reverse("api:asset-class-list"), {"path": " > "})
    assert bad.status_code == 400 and "path" in bad.json()
    advisor = _post(client_for(program.advisor), reverse("api:asset-class-list"), {"path": "X"})
    assert advisor.status_code == 403
    assert not AssetClass.objects.filter(path="X").exists()


def test_definition_detail_has_effective_weights_with_sources_and_diff(
    program: Program, client_for: ClientFor
) -> None:
    client = client_for(program.ipc)
    created = _post(
        client,
        reverse("api:definition-list"),
        {
            "kind": "security_model",
            "name": "US LC ex energy",
            "parent_id": program.stocks.pk,
            "content": {"remove": ["XOM"], "rescale": True},
            "reason": "no oil",
        },
    )
    assert created.status_code == 201, created.content
    body = client_for(program.advisor).get(
        reverse("api:definition-detail", args=[created.json()["id"]])
    )
    data = body.json()
    entries = {e["key"]: e for e in data["effective"]["entries"]}
    assert set(entries) == {"AAPL", "MSFT", "JNJ"}
    assert entries["AAPL"]["weight"] == "0.5"
    assert entries["AAPL"]["source"] == (
        "set in 'US LC stocks' v1, rescaled in 'US LC ex energy' v1"
    )
    diff = {d["key"]: d["change"] for d in data["diff"]}
    assert diff == {
        "AAPL": "reweighted",
        "JNJ": "reweighted",
        "MSFT": "reweighted",
        "XOM": "removed",
    }
    assert data["subscribed"] is False


def test_strategy_detail_has_allocation_and_sleeves(
    program: Program, client_for: ClientFor
) -> None:
    data = (
        client_for(program.advisor)
        .get(reverse("api:definition-detail", args=[program.strategy.pk]))
        .json()
    )
    assert data["effective"]["risk_profile"] == "Moderate"
    assert [s["asset_class"] for s in data["effective"]["sleeves"]] == [LC, CORE]


def test_new_version_bad_sum_is_400_and_writes_nothing(
    program: Program, client_for: ClientFor
) -> None:
    url = reverse("api:definition-versions", args=[program.allocation.pk])
    response = _post(
        client_for(program.ipc),
        url,
        {
            "content": {"classes": {LC: {"weight": "0.5"}, CORE: {"weight": "0.35"}}},
            "expected_version": 1,
            "reason": "less",
        },
    )
    assert response.status_code == 400
    assert "not 100 %" in response.json()["content"][0]
    assert DefinitionVersion.objects.filter(definition=program.allocation).count() == 1


def test_new_version_then_stale_version_is_409(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.ipc)
    url = reverse("api:definition-versions", args=[program.screen.pk])
    body = {"content": {"sectors": ["Energy"], "securities": ["JNJ"]}, "reason": "add JNJ"}
    ok = _post(client, url, {**body, "expected_version": 1})
    assert ok.status_code == 201 and ok.json()["current_version"] == 2
    stale = _post(client, url, {**body, "expected_version": 1})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.json()["detail"]
    history = client.get(url).json()["results"]
    assert [v["number"] for v in history] == [2, 1]
    assert history[0]["reason"] == "add JNJ"


def test_a_model_inheriting_from_itself_is_refused(program: Program, client_for: ClientFor) -> None:
    response = _post(
        client_for(program.ipc),
        reverse("api:definition-versions", args=[program.allocation.pk]),
        {
            "content": {"classes": {}},
            "expected_version": 1,
            "reason": "loop",
            "parent_id": program.allocation.pk,
        },
    )
    assert response.status_code == 400
    assert "cannot inherit from itself" in response.json()["parent"][0]
    assert Definition.objects.get(pk=program.allocation.pk).current_version == 1


def test_advisors_cannot_edit_models(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.advisor)
    create = _post(
        client,
        reverse("api:definition-list"),
        {"kind": "screen", "name": "X", "content": {"securities": ["XOM"]}},
    )
    assert create.status_code == 403
    version = _post(
        client,
        reverse("api:definition-versions", args=[program.screen.pk]),
        {"content": {"securities": ["XOM"]}, "expected_version": 1, "reason": "r"},
    )
    assert version.status_code == 403
    assert not Definition.objects.filter(name="X").exists()


def test_publish_subscribe_read_only_and_end(program: Program, client_for: ClientFor) -> None:
    cast = program.cast
    publish = _post(
        client_for(program.ipc),
        reverse("api:definition-publish", args=[program.strategy.pk]),
        {"published": True, "reason": "offer"},
    )
    assert publish.status_code == 200 and publish.json()["published"] is True
    ipc_b = client_for(member(cast.firm_b, Role.IPC, "ipc_b"))
    detail = reverse("api:definition-detail", args=[program.strategy.pk])
    assert ipc_b.get(detail).status_code == 404
    sub = _post(
        ipc_b,
        reverse("api:subscription-list"),
        {"provider": cast.firm_a.pk, "reason": "use their models"},
    )
    assert sub.status_code == 201
    seen = ipc_b.get(detail)
    assert seen.status_code == 200 and seen.json()["subscribed"] is True
    write = _post(
        ipc_b,
        reverse("api:definition-versions", args=[program.strategy.pk]),
        {"content": {}, "expected_version": 1, "reason": "mine now"},
    )
    assert write.status_code == 404
    end = _post(ipc_b, reverse("api:subscription-end", args=[sub.json()["id"]]), {"reason": "x"})
    assert end.status_code == 200 and end.json()["ended_at"]
    assert ipc_b.get(detail).status_code == 404


def test_impact_counts_accounts_through_strategies(program: Program, client_for: ClientFor) -> None:
    program.choose(program.cast.account_a1, {"strategy": program.strategy.pk})
    client = client_for(program.ipc)
    data = client.get(reverse("api:definition-impact", args=[program.stocks.pk])).json()
    assert data["accounts"] == 1
    assert data["strategies"] == [{"id": program.strategy.pk, "name": "Balanced stocks"}]
    assert (
        client.get(reverse("api:definition-impact", args=[program.etf.pk])).json()["accounts"] == 0
    )
    other = client_for(program.cast.admin_b)
    assert other.get(reverse("api:definition-impact", args=[program.stocks.pk])).status_code == 404


def test_definition_list_filters_by_kind(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.advisor)
    data = client.get(reverse("api:definition-list"), {"kind": "security_model"}).json()
    assert {d["name"] for d in data["results"]} == {"US LC stocks", "US LC ETF", "Core bonds"}
    assert client.get(reverse("api:definition-list"), {"kind": "bogus"}).status_code == 400
    assert client.get(reverse("api:definition-list"), {"colour": "red"}).status_code == 400
    assert DefinitionKind.SCREEN in {
        d["kind"] for d in client.get(reverse("api:definition-list")).json()["results"]
    }


def test_definition_list_query_count_is_flat(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.advisor)
    url = reverse("api:definition-list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(10):
        definition_create(
            actor=program.ipc,
            firm_id=program.cast.firm_a.pk,
            kind=DefinitionKind.SCREEN,
            name=f"Screen {i}",
            content={"securities": ["XOM"]},
            reason="more",
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).json()["count"] == 18
    assert len(many) == len(few)


def test_the_schema_documents_the_new_endpoints(cast: Cast, client_for: ClientFor) -> None:
    schema = client_for(cast.user(Role.IPC)).get(reverse("api:schema")).content.decode()
    for path in (
        "/api/v1/asset-classes/",
        "/api/v1/definitions/{id}/versions/",
        "/api/v1/definitions/{id}/publish/",
        "/api/v1/definitions/{id}/impact/",
        "/api/v1/subscriptions/{id}/end/",
        "/api/v1/account-settings/{id}/",
        "/api/v1/household-settings/{id}/",
        "/api/v1/saved-filters/{id}/",
        "/api/v1/bulk-changes/preview/",
        "/api/v1/bulk-changes/{id}/reverse/",
    ):
        assert f"{path}:" in schema, path


def test_a_nul_inside_content_is_a_400(program: Program, client_for: ClientFor) -> None:
    response = _post(
        client_for(program.ipc),
        reverse("api:definition-list"),
        {"kind": "screen", "name": "Nul", "content": {"securities": ["X\u0000M"]}},
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["securities[0]"][0]
    assert not Definition.objects.filter(name="Nul").exists()
