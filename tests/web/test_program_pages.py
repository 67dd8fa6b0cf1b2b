"""The IPC's pages: asset classes, the model tree, effective model with provenance, the editor
(inline errors, nothing written on bad input, the version check), impact, publishing,
subscriptions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from models_hub.models import AssetClass, Definition, DefinitionKind, DefinitionVersion
from models_hub.program_services import definition_create, definition_publish
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.program.conftest import CASH, CORE, LC, Program, program_build

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]


@pytest.fixture
def program(cast: Cast) -> Program:
    return program_build(cast)


def test_asset_class_tree_and_add_by_path(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.ipc)
    html = client.get(reverse("models:asset_classes")).content.decode()
    assert "Large Cap" in html and "Fixed Income &gt; Core" in html
    response = client.post(reverse("models:asset_classes"), {"path": "Equity > Intl > EM"})
    assert response.status_code == 302
    assert AssetClass.objects.filter(firm=program.cast.firm_a, path="Equity > Intl > EM").exists()


def test_asset_class_bad_path_is_refused_inline(program: Program, client_for: ClientFor) -> None:
    before = AssetClass.objects.count()
    response = client_for(program.ipc).post(reverse("models:asset_classes"), {"path": "Equity >"})
    assert response.status_code == 400
    assert "is not an asset-class path" in response.content.decode()
    assert AssetClass.objects.count() == before


def test_advisor_cannot_add_asset_classes(program: Program, client_for: ClientFor) -> None:
    response = client_for(program.advisor).post(reverse("models:asset_classes"), {"path": "X"})
    assert response.status_code == 403


def test_model_list_is_a_tree_with_subscribed_models_read_only(
    program: Program, client_for: ClientFor
) -> None:
    child = definition_create(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=DefinitionKind.ALLOCATION,
        name="Balanced ex cash",
        content={"remove": [CASH], "rescale": True},
        parent_id=program.allocation.pk,
        reason="variant",
    ).definition
    html = client_for(program.advisor).get(reverse("models:definition_list")).content.decode()
    parent_at = html.index(">Balanced<")
    child_at = html.index(">Balanced ex cash<")
    assert parent_at < child_at
    assert f'depth-1"><a href="/models/{child.pk}/">Balanced ex cash' in html


def test_effective_model_shows_provenance_history_and_diff(
    program: Program, client_for: ClientFor
) -> None:
    child = definition_create(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=DefinitionKind.SECURITY_MODEL,
        name="US LC ex energy",
        content={"remove": ["XOM"], "rescale": True},
        parent_id=program.stocks.pk,
        reason="no oil",
    ).definition
    html = (
        client_for(program.advisor)
        .get(reverse("models:definition_detail", args=[child.pk]))
        .content.decode()
    )
    assert "set in &#x27;US LC stocks&#x27; v1, rescaled in &#x27;US LC ex energy&#x27; v1" in html
    assert '<td>XOM</td><td class="num">20.0 %</td><td class="num"></td><td>removed</td>' in html
    assert "reweighted" in html
    assert "no oil" in html  # the history's reason


def test_editor_refuses_weights_not_summing_to_100_and_writes_nothing(
    program: Program, client_for: ClientFor
) -> None:
    url = reverse("models:definition_edit", args=[program.allocation.pk])
    content = {
        "classes": {LC: {"weight": "0.7"}, CORE: {"weight": "0.35"}, CASH: {"weight": "0.05"}}
    }
    response = client_for(program.ipc).post(
        url,
        {"content": json.dumps(content), "reason": "more equity", "expected_version": "1"},
    )
    assert response.status_code == 400
    assert "weights sum to 110 %, not 100 %" in response.content.decode()
    assert DefinitionVersion.objects.filter(definition=program.allocation).count() == 1
    assert Definition.objects.get(pk=program.allocation.pk).current_version == 1


def test_editor_shows_field_errors_inline(program: Program, client_for: ClientFor) -> None:
    response = client_for(program.ipc).post(
        reverse("models:definition_create") + "?kind=allocation",
        {
            "name": "Bad",
            "content": json.dumps({"classes": {LC: {"weight": "-0.1"}}}),
            "reason": "x",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="content-errors"' in html
    assert f"classes[{LC}].weight".replace(">", "&gt;") in html
    assert "must be between 0 and 1" in html
    assert not Definition.objects.filter(name="Bad").exists()


def test_editor_new_version_then_a_stale_one_is_told_changed_by_someone_else(
    program: Program, client_for: ClientFor
) -> None:
    client = client_for(program.ipc)
    url = reverse("models:definition_edit", args=[program.allocation.pk])
    assert 'name="expected_version" value="1"' in client.get(url).content.decode()
    content = {
        "classes": {
            LC: {"weight": "0.55", "band": "0.05"},
            CORE: {"weight": "0.4", "band": "0.05"},
            CASH: {"weight": "0.05"},
        }
    }
    data = {"content": json.dumps(content), "reason": "less equity", "expected_version": "1"}
    assert client.post(url, data).status_code == 302
    assert Definition.objects.get(pk=program.allocation.pk).current_version == 2
    stale = client.post(url, {**data, "reason": "another edit"})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.content.decode()
    assert Definition.objects.get(pk=program.allocation.pk).current_version == 2


def test_advisor_cannot_open_or_post_the_editor(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.advisor)
    url = reverse("models:definition_edit", args=[program.allocation.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"content": "{}", "expected_version": "1"}).status_code == 403
    assert client.get(reverse("models:definition_create") + "?kind=screen").status_code == 403


def test_other_firm_gets_404_on_a_model(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.cast.admin_b)
    assert (
        client.get(reverse("models:definition_detail", args=[program.allocation.pk])).status_code
        == 404
    )
    assert (
        client.get(reverse("accounts:definition_impact", args=[program.allocation.pk])).status_code
        == 404
    )


def test_impact_counts_accounts_and_money_through_the_strategy(
    program: Program, client_for: ClientFor
) -> None:
    program.choose(program.cast.account_a1, {"strategy": program.strategy.pk})
    account = Account.objects.get(pk=program.cast.account_a1.pk)
    money = account.cash_balance + account.securities_value
    html = (
        client_for(program.ipc)
        .get(reverse("accounts:definition_impact", args=[program.bonds.pk]))
        .content.decode()
    )
    assert 'data-testid="impact-accounts">1<' in html
    assert f"${money:,.2f}" in html
    assert "Balanced stocks" in html
    unused = (
        client_for(program.ipc)
        .get(reverse("accounts:definition_impact", args=[program.etf.pk]))
        .content.decode()
    )
    assert 'data-testid="impact-accounts">0<' in unused


def test_publish_and_subscribe(program: Program, client_for: ClientFor) -> None:
    client = client_for(program.ipc)
    url = reverse("models:definition_detail", args=[program.strategy.pk])
    assert client.post(url, {"published": "true", "reason": ""}).status_code == 400
    assert client.post(url, {"published": "true", "reason": "offer it"}).status_code == 302
    assert Definition.objects.get(pk=program.strategy.pk).published
    assert AuditEvent.objects.filter(action="definition.publish").exists()
    # Firm B's IPC subscribes, sees the strategy read-only, and cannot edit it.
    from tests.factories import member

    ipc_b = member(program.cast.firm_b, Role.IPC, "ipc_b")
    client_b = client_for(ipc_b)
    page = client_b.get(reverse("models:subscriptions")).content.decode()
    assert program.cast.firm_a.name in page
    response = client_b.post(
        reverse("models:subscriptions"), {"provider": program.cast.firm_a.pk, "reason": "use it"}
    )
    assert response.status_code == 302
    listing = client_b.get(reverse("models:definition_list")).content.decode()
    assert "Balanced stocks" in listing and 'data-testid="read-only"' in listing
    assert client_b.get(url).status_code == 200
    edit = reverse("models:definition_edit", args=[program.strategy.pk])
    assert client_b.get(edit).status_code == 404


def test_model_list_query_count_is_flat(
    program: Program, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    client = client_for(program.ipc)
    url = reverse("models:definition_list")
    client.get(url)
    with django_assert_max_num_queries(6):
        client.get(url)
    for i in range(10):
        definition_create(
            actor=program.ipc,
            firm_id=program.cast.firm_a.pk,
            kind=DefinitionKind.SCREEN,
            name=f"Screen {i}",
            content={"securities": ["XOM"]},
            reason="more",
        )
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200


def test_unpublished_provider_models_are_not_shown(program: Program, client_for: ClientFor) -> None:
    definition_publish(actor=program.ipc, definition=program.bonds, published=False, reason="x")
    from tests.factories import member

    client_b = client_for(member(program.cast.firm_b, Role.IPC, "ipc_b"))
    assert (
        client_b.get(reverse("models:definition_detail", args=[program.bonds.pk])).status_code
        == 404
    )


def test_the_editor_loads_the_impact_as_an_htmx_partial(
    program: Program, client_for: ClientFor
) -> None:
    program.choose(program.cast.account_a1, {"strategy": program.strategy.pk})
    client = client_for(program.ipc)
    url = reverse("accounts:definition_impact", args=[program.allocation.pk])
    editor = client.get(reverse("models:definition_edit", args=[program.allocation.pk]))
    assert f'hx-get="{url}"' in editor.content.decode()
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial
    assert 'data-testid="impact-accounts">1<' in partial


def test_a_nul_character_is_a_400_naming_the_field_and_writes_nothing(
    program: Program, client_for: ClientFor
) -> None:
    client = client_for(program.ipc)
    response = client.post(
        reverse("models:definition_create") + "?kind=screen",
        {"name": "Bad\x00name", "content": '{"securities": ["XOM"]}', "reason": "x"},
    )
    assert response.status_code == 400
    assert "name: must not contain a NUL character" in response.content.decode()
    assert not Definition.objects.filter(kind="screen", name__startswith="Bad").exists()
    classes = client.post(reverse("models:asset_classes"), {"path": "Equity > \x00"})
    assert classes.status_code == 400
