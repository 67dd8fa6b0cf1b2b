"""The advisor's pages: account customization (menus with inherited values and sources, limits
named inline, the version check), the household side by side, saved filters, bulk changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, BulkChange, SavedFilter, SettingsVersion
from accounts.resolve import resolve_accounts
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.program.conftest import Program, program_build

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
#: Session, user, membership, the account, three resolutions (program, classes, securities,
#: layers each), the own version, strategies and screens: none per restriction or account.
CUSTOMIZATION_MAX_QUERIES = 26


@pytest.fixture
def program(cast: Cast) -> Program:
    return program_build(cast)


def _settings_url(account: Any) -> str:
    return reverse("accounts:account_settings", args=[account.pk])


def _versions(account: Any) -> int:
    return SettingsVersion.objects.filter(account=account).count()


def test_customization_page_shows_inherited_values_and_sources_without_knobs_for_advisors(
    program: Program, client_for: ClientFor
) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk})
    html = client_for(program.advisor).get(_settings_url(account)).content.decode()
    assert 'data-choice="tax_sensitivity"' in html
    assert "built-in default" in html
    assert f'<optgroup label="Moderate"><option value="{program.strategy.pk}" selected>' in html
    assert 'name="expected_version" value="1"' in html
    assert "Equity &gt; US &gt; Large Cap" in html  # a tilt row per class of the allocation
    assert 'data-testid="targets"' in html and "<td>AAPL</td>" in html
    assert 'data-testid="knobs"' not in html
    ipc_html = client_for(program.ipc).get(_settings_url(account)).content.decode()
    assert 'data-testid="knobs"' in ipc_html and "Settings." in ipc_html


def _form(program: Program, **changes: str) -> dict[str, str]:
    return {"strategy": str(program.strategy.pk), "reason": "client asked", **changes}


def test_saving_choices_writes_a_version_and_audits(
    program: Program, client_for: ClientFor
) -> None:
    account = program.cast.account_a1
    client = client_for(program.advisor)
    data = _form(
        program,
        expected_version="0",
        tax_sensitivity="maximum",
        restrictions="never_buy security XOM | client works for a competitor",
    )
    response = client.post(_settings_url(account), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    resolved = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert resolved.setting("tax_sensitivity").value == "maximum"
    assert resolved.setting("tax_sensitivity").source == "account v1"
    assert "XOM" in resolved.never_buy


def test_a_tilt_beyond_the_limit_names_the_limit_and_writes_nothing(
    program: Program, client_for: ClientFor
) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk})
    response = client_for(program.advisor).post(
        _settings_url(account), _form(program, expected_version="1", **{"tilt-1": "0.08"})
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-tilt"' in html
    assert "a tilt of 8 points is beyond the limit of ±5 points (firm limits v1)" in html
    assert 'value="0.08"' in html  # the input is shown again
    assert _versions(account) == 1


def test_a_malformed_line_is_an_inline_error(program: Program, client_for: ClientFor) -> None:
    account = program.cast.account_a1
    response = client_for(program.advisor).post(
        _settings_url(account), _form(program, expected_version="0", restrictions="no XOM")
    )
    assert response.status_code == 400
    assert 'data-testid="error-restrictions"' in response.content.decode()
    assert _versions(account) == 0


def test_a_stale_form_is_told_changed_by_someone_else(
    program: Program, client_for: ClientFor
) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk})
    response = client_for(program.advisor).post(
        _settings_url(account), _form(program, expected_version="0", min_trade="100")
    )
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert _versions(account) == 1


def test_the_ipc_cannot_edit_a_clients_settings(program: Program, client_for: ClientFor) -> None:
    account = program.cast.account_a1
    response = client_for(program.ipc).post(
        _settings_url(account), _form(program, expected_version="0")
    )
    assert response.status_code == 403
    assert _versions(account) == 0


def test_other_firm_and_unassigned_households_get_404(
    program: Program, client_for: ClientFor
) -> None:
    cast = program.cast
    assert client_for(cast.admin_b).get(_settings_url(cast.account_a1)).status_code == 404
    advisor = client_for(program.advisor)
    assert advisor.get(_settings_url(cast.account_a2)).status_code == 404
    posted = advisor.post(_settings_url(cast.account_a2), _form(program, expected_version="0"))
    assert posted.status_code == 404


def test_household_settings_apply_to_its_accounts_side_by_side(
    program: Program, client_for: ClientFor
) -> None:
    cast = program.cast
    url = reverse("accounts:household_settings", args=[cast.hh_a1.pk])
    client = client_for(program.advisor)
    page = client.get(url).content.decode()
    assert 'data-testid="side-by-side"' in page and cast.account_a1.name in page
    assert 'name="strategy"' not in page  # a strategy is chosen per account
    response = client.post(
        url, {"expected_version": "0", "loss_harvesting": "aggressive", "reason": "household"}
    )
    assert response.status_code == 302
    resolved = resolve_accounts(cast.firm_a.pk, [cast.account_a1.pk])[cast.account_a1.pk]
    assert resolved.setting("loss_harvesting").value == "aggressive"
    assert resolved.setting("loss_harvesting").source == "household v1"
    assert "household v1" in client.get(url).content.decode()


def test_customization_page_query_count_is_flat(
    program: Program, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk})
    client = client_for(program.advisor)
    client.get(_settings_url(account))
    with CaptureQueriesContext(connection) as plain:
        assert client.get(_settings_url(account)).status_code == 200
    program.choose(
        account,
        {
            "strategy": program.strategy.pk,
            "screens": [program.screen.pk],
            "restrictions": [
                {"rule": "never_buy", "security": t, "reason": "r"} for t in ("JNJ", "XOM", "MSFT")
            ],
            "substitutions": [{"instead_of": "AGG", "hold": "BND", "reason": "r"}],
        },
    )
    with django_assert_max_num_queries(CUSTOMIZATION_MAX_QUERIES):
        assert client.get(_settings_url(account)).status_code == 200
    with CaptureQueriesContext(connection) as customized:
        client.get(_settings_url(account))
    assert len(customized) == len(plain)


# --- saved filters -------------------------------------------------------------------------------


def test_save_apply_and_delete_a_filter(cast: Cast, client_for: ClientFor) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    client = client_for(admin)
    query = f"custodian={cast.account_a1.custodian}&page=2&ordering=name"
    response = client.post(
        reverse("accounts:saved_filters"), {"query": query, "name": "Mine", "shared": "on"}
    )
    assert response.status_code == 302
    saved = SavedFilter.objects.get(name="Mine")
    assert saved.criteria == {"custodian": cast.account_a1.custodian} and saved.shared
    listed = client.get(reverse("accounts:account_list") + f"?saved={saved.pk}").content.decode()
    assert cast.account_a1.account_number in listed
    # Another member sees the shared filter but cannot delete it.
    other = client_for(cast.user(Role.ADVISOR))
    assert "Mine" in other.get(reverse("accounts:saved_filters")).content.decode()
    other.post(reverse("accounts:saved_filters"), {"delete": saved.pk})
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    client.post(reverse("accounts:saved_filters"), {"delete": saved.pk})
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


def test_a_filter_without_criteria_is_refused(cast: Cast, client_for: ClientFor) -> None:
    response = client_for(cast.user(Role.ADVISOR)).post(
        reverse("accounts:saved_filters"), {"query": "page=3", "name": "Empty"}
    )
    assert response.status_code == 400
    assert "give at least one criterion" in response.content.decode()
    assert not SavedFilter.objects.exists()


# --- bulk changes --------------------------------------------------------------------------------


def _bulk(**changes: str) -> dict[str, str]:
    return {
        "criteria": "status=active",
        "op": "set",
        "choice": "min_trade",
        "value": "250",
        "action": "preview",
        **changes,
    }


def test_bulk_preview_counts_then_apply_then_reverse_restores(
    cast: Cast, client_for: ClientFor
) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    client = client_for(admin)
    url = reverse("accounts:bulk_change")
    open_accounts = Account.objects.filter(firm=cast.firm_a, status="active").count()
    assert open_accounts >= 2
    preview = client.post(url, _bulk())
    assert preview.status_code == 200
    html = preview.content.decode()
    assert f'data-testid="matched">{open_accounts}<' in html
    assert f'data-testid="to-change">{open_accounts}<' in html
    assert not SettingsVersion.objects.exists()  # a preview writes nothing
    applied = client.post(url, _bulk(action="apply", reason="higher minimum"))
    assert applied.status_code == 302
    account = Account.objects.select_related("settings_version").get(pk=cast.account_a1.pk)
    assert account.settings_version is not None
    assert account.settings_version.content["min_trade"] == "250"
    bulk = BulkChange.objects.get(reverses__isnull=True)
    reversed_ = client.post(url, {"reverse": bulk.pk, "reason": "mistake"})
    assert reversed_.status_code == 302
    account = Account.objects.select_related("settings_version").get(pk=cast.account_a1.pk)
    assert account.settings_version is not None
    assert "min_trade" not in account.settings_version.content
    assert BulkChange.objects.filter(reverses=bulk).exists()


def test_bulk_exemption_with_a_reason_leaves_the_account(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.FIRM_ADMIN))
    exempt = f"{cast.account_a2.pk}: client declined"
    response = client.post(
        reverse("accounts:bulk_change"), _bulk(exemptions=exempt, action="apply", reason="r")
    )
    assert response.status_code == 302
    assert not SettingsVersion.objects.filter(account=cast.account_a2).exists()
    assert SettingsVersion.objects.filter(account=cast.account_a1).exists()


def test_bulk_bad_input_is_refused(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.FIRM_ADMIN))
    response = client.post(reverse("accounts:bulk_change"), _bulk(value="-5"))
    assert response.status_code == 400
    assert "must be between 0 and" in response.content.decode()
    missing_reason = client.post(reverse("accounts:bulk_change"), _bulk(action="apply"))
    assert missing_reason.status_code == 400
    assert not SettingsVersion.objects.exists()


def test_bulk_roles(cast: Cast, client_for: ClientFor) -> None:
    url = reverse("accounts:bulk_change")
    assert client_for(cast.user(Role.IPC)).get(url).status_code == 403
    compliance = client_for(cast.user(Role.COMPLIANCE))
    assert compliance.get(url).status_code == 200
    assert compliance.post(url, _bulk(action="apply", reason="r")).status_code == 403
    assert not SettingsVersion.objects.exists()


def test_advisor_bulk_preview_sees_only_assigned_accounts(
    cast: Cast, client_for: ClientFor
) -> None:
    html = client_for(cast.user(Role.ADVISOR)).post(reverse("accounts:bulk_change"), _bulk())
    expected = Account.objects.filter(household=cast.hh_a1, status="active").count()
    assert f'data-testid="matched">{expected}<' in html.content.decode()


# --- firm defaults -------------------------------------------------------------------------------


def test_the_ipc_sets_firm_defaults_that_accounts_inherit(
    program: Program, client_for: ClientFor
) -> None:
    cast = program.cast
    url = reverse("accounts:firm_settings")
    client = client_for(program.ipc)
    page = client.get(url).content.decode()
    assert 'data-choice="cost_schedules"' in page and "built-in default" in page
    bad = client.post(url, {"expected_version": "0", "cost_schedules": "{nope", "reason": "r"})
    assert bad.status_code == 400 and 'data-testid="error-cost_schedules"' in bad.content.decode()
    response = client.post(
        url,
        {
            "expected_version": "0",
            "min_trade": "75",
            "cost_schedules": '{"standard": {"commission_bps": "0", "spread_bps": "5"},'
            ' "platinum": {"commission_bps": "0", "spread_bps": "2"}}',
            "reason": "firm policy",
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    resolved = resolve_accounts(cast.firm_a.pk, [cast.account_a1.pk])[cast.account_a1.pk]
    assert resolved.setting("min_trade").value == "75"
    assert resolved.setting("min_trade").source == "firm default v1"
    assert "platinum" in resolved.setting("cost_schedules").value
    advisor = client_for(program.advisor)
    assert advisor.get(url).status_code == 200
    denied = advisor.post(url, {"expected_version": "1", "min_trade": "5", "reason": "r"})
    assert denied.status_code == 403
