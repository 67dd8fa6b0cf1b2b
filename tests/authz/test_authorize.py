"""One write-side authorization: every service asks authorize() first; refusals that would reveal
another firm's (or an unassigned household's) data are hidden as 404, the others are 403."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.test import RequestFactory
from rest_framework.views import APIView

from rebalancer.authz import (
    HiddenAuthorizationMiddleware,
    NotAuthorized,
    SystemActor,
    authorize,
)
from rebalancer.drf import exception_handler
from rebalancer.roles import Action, Resource, Role
from tests.conftest import ROOT, Cast
from tests.factories import UserFactory
from workflow.feeds.service import import_enqueue

pytestmark = pytest.mark.django_db


def test_system_actors_are_explicit_and_may_act_in_any_firm(cast: Cast) -> None:
    for actor in SystemActor:
        authorize(actor=actor, firm=cast.firm_b, resource=Resource.POSITION)
    with pytest.raises(TypeError, match="needs an actor"):
        authorize(actor=None, firm=cast.firm_a, resource=Resource.POSITION)  # type: ignore[arg-type]


def test_a_member_of_another_firm_is_refused_as_not_found(cast: Cast) -> None:
    with pytest.raises(NotAuthorized) as refused:
        authorize(actor=cast.admin_b, firm=cast.firm_a, resource=Resource.MEMBERSHIP)
    assert refused.value.hidden


def test_a_role_without_the_right_is_refused_openly(cast: Cast) -> None:
    with pytest.raises(NotAuthorized, match="may not change positions") as refused:
        authorize(actor=cast.user(Role.ADVISOR), firm=cast.firm_a, resource=Resource.POSITION)
    assert not refused.value.hidden
    authorize(actor=cast.user(Role.DATA_MANAGER), firm=cast.firm_a, resource=Resource.POSITION)


def test_an_advisor_may_change_only_assigned_households(cast: Cast) -> None:
    advisor = cast.user(Role.ADVISOR)
    authorize(actor=advisor, firm=cast.firm_a, resource=Resource.ACCOUNT, household=cast.hh_a1.pk)
    with pytest.raises(NotAuthorized) as refused:
        authorize(
            actor=advisor, firm=cast.firm_a, resource=Resource.ACCOUNT, household=cast.hh_a2.pk
        )
    assert refused.value.hidden
    # Roles that see the whole firm are not limited by household.
    authorize(
        actor=cast.user(Role.OVERLAY_MANAGER),
        firm=cast.firm_a,
        resource=Resource.ACCOUNT,
        household=cast.hh_a2.pk,
    )


def test_platform_level_changes_are_for_the_operator_only(cast: Cast) -> None:
    with pytest.raises(NotAuthorized, match="platform operator"):
        authorize(actor=cast.user(Role.FIRM_ADMIN), firm=None, resource=Resource.FIRM)
    operator = UserFactory.create(is_superuser=True, is_staff=True)
    authorize(actor=operator, firm=None, resource=Resource.FIRM)
    authorize(actor=operator, firm=cast.firm_b, resource=Resource.POSITION)


def test_view_only_actions_are_checked_too(cast: Cast) -> None:
    authorize(
        actor=cast.user(Role.COMPLIANCE),
        firm=cast.firm_a,
        resource=Resource.AUDIT,
        action=Action.VIEW,
    )
    with pytest.raises(NotAuthorized):
        authorize(
            actor=cast.user(Role.ADVISOR),
            firm=cast.firm_a,
            resource=Resource.AUDIT,
            action=Action.VIEW,
        )


def test_import_enqueue_checks_the_uploader(cast: Cast) -> None:
    """The upload service itself refuses a role that may not import (it checked nothing)."""
    for role in (Role.FIRM_ADMIN, Role.ADVISOR, Role.COMPLIANCE):
        with pytest.raises(NotAuthorized):
            import_enqueue(
                firm=cast.firm_a,
                actor=cast.user(role),
                kind="prices",
                file_name="p.csv",
                content=b"ticker,date,close\n",
            )
    with pytest.raises(NotAuthorized) as refused:
        import_enqueue(
            firm=cast.firm_b,
            actor=cast.user(Role.DATA_MANAGER),
            kind="prices",
            file_name="p.csv",
            content=b"ticker,date,close\n",
        )
    assert refused.value.hidden


def _request() -> HttpRequest:
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    return request


def test_pages_answer_a_hidden_refusal_with_404_and_an_open_one_not() -> None:
    middleware = HiddenAuthorizationMiddleware(lambda request: None)
    hidden = middleware.process_exception(_request(), NotAuthorized("x", hidden=True))
    assert hidden is not None and hidden.status_code == 404
    assert middleware.process_exception(_request(), NotAuthorized("x")) is None  # -> 403


def test_the_api_answers_a_hidden_refusal_with_404_and_an_open_one_with_403() -> None:
    context = {"view": APIView(), "request": _request()}
    hidden = exception_handler(NotAuthorized("secret", hidden=True), context)
    assert hidden is not None and hidden.status_code == 404
    assert "secret" not in str(hidden.data)
    open_refusal = exception_handler(NotAuthorized("Your role may not"), context)
    assert open_refusal is not None and open_refusal.status_code == 403


SERVICE_MODULES = [
    "accounts/services.py",
    "rebalancer/services.py",
    "models_hub/services.py",
    "workflow/feeds/service.py",
    "demo/marketdata/load.py",
    "models_hub/program_services.py",
    "accounts/customization.py",
    "accounts/saved_filters.py",
    "accounts/bulk_changes.py",
    "models_hub/transfer.py",
    "accounts/transactions.py",
    "accounts/customization_bulk.py",
    "workflow/nightly.py",
    "workflow/rederive.py",
    "workflow/what_if.py",
]


@pytest.mark.parametrize("path", SERVICE_MODULES)
def test_every_public_write_service_authorizes_first(path: str) -> None:
    """Each public function of a service module calls authorize (directly or via a helper that
    does) before anything else; self-service functions on one's own user are listed."""
    self_service = {"password_change", "password_set_from_invitation", "api_token_rotate"}
    readers = {
        "importer_for",
        "import_run_queued",
        "market_data_specs",
        "market_closes",
        "member_username",  # a pure function: the login name of an invited user
        "path_split",  # a pure function: an asset-class path's names
        "owner_of",  # builds a value naming whose settings
        "current_version",
        "limit_errors",  # checks, writes nothing
        "proposed_errors",
        "reference_errors",
        "restricted_tickers",  # pure functions of the menu content
        "settings_columns",
        "saved_filter_list",
        "saved_filter_visible",
        "criteria_clean",
        "operation_clean",
        "operation_describe",
        "operation_apply",
        "bulk_change_preview",  # reads the accounts the user's filter matches, writes nothing
        "model_file_parse",  # parses text, writes nothing
        "definition_dependants",  # reads the versions in force
        "market_data_load",  # the nightly run's reads, for the firm the run authorized
        "accounts_data_load",
        "price_date_latest_of",
        "risk_model_load",
        "what_if_summary",
    }
    source = (Path(ROOT) / path).read_text()
    for match in re.finditer(r"^def ([a-z]\w*)\(.*?\n(?=^def |\Z)", source, re.M | re.S):
        name, body = match.group(1), match.group(0)
        if name in self_service | readers:
            continue
        assert re.search(r"\b(authorize|_authorize|_check_actor|import_file)\(", body), (
            f"{path}: {name} writes without authorize()"
        )


def test_the_import_sweeper_spans_firms_so_only_the_system_runs_it(cast: Cast) -> None:
    from workflow.feeds.service import import_sweep

    with pytest.raises(NotAuthorized, match="platform operator"):
        import_sweep(actor=cast.user(Role.FIRM_ADMIN))
    assert import_sweep(actor=SystemActor.SCHEDULER).failed == []
