"""The access matrix: one row per named URL route, read by ``tests/test_access_matrix.py``.

Each :class:`Route` says how to build the route's URL for one firm's objects, which firm-A roles
may use it, and what a successful request returns. The test derives every case from the row:

* anonymous -> login redirect (``page``) or 401 (``api``); ``public`` routes answer anyone;
* a firm-B user whose role would be allowed -> 404 on firm A's object (and ``ok`` on firm B's own);
* an advisor -> 404 on a household-owned object outside their assigned households;
* a firm-A role not in ``roles`` -> 403; a role in ``roles`` -> ``ok`` (2xx unless noted);
* an authenticated user with no firm membership -> ``no_membership`` (403 unless noted).

A route missing from :data:`ROUTES` (and not in :data:`EXCLUDED` with a reason) fails
``test_every_route_is_in_the_matrix``. Adding a route? Add its row here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from accounts.models import BulkChange, Position, SavedFilter, TaxLot
from models_hub.models import AssetClass, Definition, DefinitionKind, ModelSubscription
from models_hub.program_services import asset_classes_ensure, definition_create
from rebalancer.authz import SystemActor
from rebalancer.models import Membership
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import holding
from workflow.models import ImportKind, ImportRecord

ALL_ROLES: frozenset[Role] = frozenset(Role)
R = Role

Kind = Literal["page", "api", "public"]
Which = Literal["a", "b", "a_unassigned"]


@dataclass(frozen=True)
class Objects:
    """The objects of one firm that URLs point at.

    ``a``: firm A's objects in advisor A's assigned household. ``b``: firm B's objects.
    ``a_unassigned``: firm A's objects in a household no advisor is assigned (``hh_a2``).
    ``membership`` is a member whose role a firm admin may change or who may be deactivated.
    """

    household: Any
    account: Any
    position: Position
    lot: TaxLot
    security: Any
    membership: Membership
    import_record: ImportRecord
    definition: Definition
    asset_class: AssetClass
    subscription: ModelSubscription
    saved_filter: SavedFilter
    bulk_change: BulkChange
    run: Any


def _import_record(firm: Any) -> ImportRecord:
    return ImportRecord.objects.create(firm=firm, kind=ImportKind.PRICES, file_name="prices.csv")


def _definition(firm: Any) -> Definition:
    """A one-class allocation of ``firm`` (its own asset class 'Cash')."""
    found = Definition.objects.filter(firm=firm, name="Matrix allocation").first()
    if found is not None:
        return found
    asset_classes_ensure(actor=SystemActor.COMMAND, firm_id=firm.pk, paths=["Cash"])
    return definition_create(
        actor=SystemActor.COMMAND,
        firm_id=firm.pk,
        kind=DefinitionKind.ALLOCATION,
        name="Matrix allocation",
        content={"classes": {"Cash": {"weight": "1"}}},
        reason="matrix",
    ).definition


def _subscription(firm: Any, provider: Any) -> ModelSubscription:
    found = ModelSubscription.objects.filter(firm=firm).first()
    return found or ModelSubscription.objects.create(
        firm=firm, provider=provider, started_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )


def _saved_filter(firm: Any, owner: Any) -> SavedFilter:
    found = SavedFilter.objects.filter(firm=firm).first()
    return found or SavedFilter.objects.create(
        firm=firm, owner=owner, name="Matrix", criteria={"status": "active"}, shared=True
    )


def _bulk_change(firm: Any) -> BulkChange:
    """A recorded bulk change that touched no account (reversing it has nothing to do)."""
    found = BulkChange.objects.filter(firm=firm).first()
    return found or BulkChange.objects.create(
        firm=firm,
        criteria={"status": "active"},
        operation={"op": "set", "choice": "min_trade", "value": "100"},
        description="min_trade = 100",
        matched=0,
        changed=0,
        created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        actor_label="matrix",
        reason="matrix",
    )


def _run(firm: Any) -> Any:
    from workflow.models import Run

    found = Run.objects.filter(firm=firm).first()
    return found or Run.objects.create(
        firm=firm, as_of=dt.date(2020, 1, 2), trigger="manual", actor_label="matrix"
    )


def objects_for(cast: Cast, which: Which) -> Objects:
    """Build (or find) the objects of ``which`` in the shared cast."""
    if which == "b":
        household, account, security = cast.hh_b1, cast.account_b1, cast.security_b
        membership = Membership.objects.get(user=cast.advisor_b)
        firm = cast.firm_b
    else:
        firm = cast.firm_a
        security = cast.security_a
        membership = Membership.objects.get(user=cast.user(Role.DATA_MANAGER))
        if which == "a":
            household, account = cast.hh_a1, cast.account_a1
        else:
            household, account = cast.hh_a2, cast.account_a2
            if not account.positions.exists():
                holding(
                    account,
                    security,
                    [("A2-1", Decimal("3"), Decimal("600.00"), dt.date(2018, 5, 1))],
                )
    position = Position.objects.filter(account=account).order_by("pk").first()
    assert position is not None
    lot = TaxLot.objects.filter(position=position).order_by("pk").first()
    assert lot is not None
    record = ImportRecord.objects.filter(firm=firm).order_by("pk").first() or _import_record(firm)
    other = cast.firm_a if which == "b" else cast.firm_b
    return Objects(
        household=household,
        account=account,
        position=position,
        lot=lot,
        security=security,
        membership=membership,
        import_record=record,
        definition=_definition(firm),
        asset_class=AssetClass.objects.get(firm=firm, path="Cash"),
        subscription=_subscription(firm, other),
        saved_filter=_saved_filter(firm, cast.admin_b if which == "b" else cast.user(Role.ADVISOR)),
        bulk_change=_bulk_change(firm),
        run=_run(firm),
    )


Builder = Callable[[Objects], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """One named route and what every kind of caller gets from it."""

    name: str
    kind: Kind
    roles: frozenset[Role] = ALL_ROLES
    #: URL kwargs for one firm's objects; None when the URL names no object.
    kwargs: Builder | None = None
    method: Literal["get", "post"] = "get"
    data: Builder | None = None
    #: Send the request as htmx does (POST actions answer htmx with a 200 partial).
    htmx: bool = False
    #: POST ``data`` as a JSON body (API writes with nested fields).
    json: bool = False
    ok: int = 200
    #: What an authenticated user without a firm membership gets (public routes: ``ok``).
    no_membership: int = 403
    #: The URL's object belongs to a household, so an unassigned advisor gets 404.
    household_owned: bool = False
    note: str = ""


def _pk(attr: str) -> Builder:
    return lambda o: {"pk": getattr(o, attr).pk}


_PUBLIC_NOTE = "reachable without login by design"
_IMPORT_VIEWERS = frozenset({R.DATA_MANAGER, R.FIRM_ADMIN, R.COMPLIANCE})
_IPC = frozenset({R.IPC})
_BULK_VIEWERS = frozenset({R.ADVISOR, R.OVERLAY_MANAGER, R.COMPLIANCE, R.MANAGEMENT, R.FIRM_ADMIN})
_BULK_CHANGERS = frozenset({R.ADVISOR, R.OVERLAY_MANAGER, R.FIRM_ADMIN})
_SETTINGS_CHANGERS = frozenset({R.ADVISOR, R.FIRM_ADMIN})

ROUTES: list[Route] = [
    # --- Tenancy core -----------------------------------------------------------------------
    Route("home", "page"),
    Route("login", "public", note=_PUBLIC_NOTE),
    Route(
        "logout",
        "public",
        method="post",
        ok=302,
        note="POST only; always redirects to the login page",
    ),
    Route("password_change", "page", no_membership=200, note="any logged-in user"),
    Route("password_change_done", "page", no_membership=200, note="any logged-in user"),
    Route(
        "password_reset_confirm",
        "public",
        kwargs=lambda o: {"uidb64": "MQ", "token": "0-invalid"},
        note="the invitation link; a bad token shows the 'link does not work' page",
    ),
    Route("password_reset_complete", "public", note=_PUBLIC_NOTE),
    Route("api_token", "page"),
    Route(
        "api_token_revoke",
        "page",
        kwargs=lambda o: {"pk": 999_999},
        method="post",
        ok=404,
        note="POST only; revokes one of the caller's own tokens (none here: 404)",
    ),
    Route("twofactor_verify", "page", no_membership=200, note="any logged-in user"),
    Route("twofactor_setup", "page", no_membership=200, note="any logged-in user"),
    Route("member_list", "page", roles=frozenset({R.FIRM_ADMIN, R.MANAGEMENT})),
    Route("member_invite", "page", roles=frozenset({R.FIRM_ADMIN})),
    Route(
        "member_set_role",
        "page",
        roles=frozenset({R.FIRM_ADMIN}),
        kwargs=_pk("membership"),
        method="post",
        data=lambda o: {
            "role": R.IPC if o.membership.role != R.IPC else R.COMPLIANCE,
            "reason": "matrix",
        },
        htmx=True,
    ),
    Route(
        "member_deactivate",
        "page",
        roles=frozenset({R.FIRM_ADMIN}),
        kwargs=_pk("membership"),
        method="post",
        data=lambda o: {"reason": "matrix"},
        htmx=True,
    ),
    Route("audit_log", "page", roles=frozenset({R.COMPLIANCE, R.MANAGEMENT, R.FIRM_ADMIN})),
    # --- Households, accounts, positions ------------------------------------------------------
    Route("accounts:household_list", "page"),
    Route("accounts:household_detail", "page", kwargs=_pk("household"), household_owned=True),
    Route("accounts:account_list", "page"),
    Route("accounts:account_detail", "page", kwargs=_pk("account"), household_owned=True),
    Route("accounts:position_detail", "page", kwargs=_pk("position"), household_owned=True),
    # --- Securities -----------------------------------------------------------------------------
    Route("securities:security_list", "page"),
    Route("securities:security_detail", "page", kwargs=_pk("security")),
    # --- Models hub (the IPC's program) --------------------------------------------------------
    Route("models:definition_list", "page"),
    Route("models:asset_classes", "page"),
    Route("models:subscriptions", "page"),
    Route("models:definition_create", "page", roles=_IPC, note="?kind= names the kind"),
    Route("models:definition_detail", "page", kwargs=_pk("definition")),
    Route("models:definition_edit", "page", roles=_IPC, kwargs=_pk("definition")),
    Route("accounts:definition_impact", "page", kwargs=_pk("definition")),
    Route("accounts:firm_settings", "page"),
    # --- Customization, saved filters, bulk changes -------------------------------------------
    Route("accounts:account_settings", "page", kwargs=_pk("account"), household_owned=True),
    Route("accounts:household_settings", "page", kwargs=_pk("household"), household_owned=True),
    Route("accounts:saved_filters", "page"),
    Route("accounts:bulk_change", "page", roles=_BULK_VIEWERS),
    # --- API: the IPC's program --------------------------------------------------------------
    Route("api:asset-class-list", "api"),
    Route("api:asset-class-detail", "api", kwargs=_pk("asset_class")),
    Route("api:definition-list", "api"),
    Route("api:definition-detail", "api", kwargs=_pk("definition")),
    Route("api:definition-versions", "api", kwargs=_pk("definition")),
    Route(
        "api:definition-publish",
        "api",
        roles=_IPC,
        kwargs=_pk("definition"),
        method="post",
        json=True,
        data=lambda o: {"published": True, "reason": "matrix"},
    ),
    Route("api:definition-impact", "api", kwargs=_pk("definition")),
    Route("api:subscription-list", "api"),
    Route("api:subscription-detail", "api", kwargs=_pk("subscription")),
    Route(
        "api:subscription-end",
        "api",
        roles=_IPC,
        kwargs=_pk("subscription"),
        method="post",
        json=True,
        data=lambda o: {"reason": "matrix"},
    ),
    # --- API: customization, saved filters, bulk changes ---------------------------------------
    Route("api:firm-settings", "api"),
    Route("api:account-settings-detail", "api", kwargs=_pk("account"), household_owned=True),
    Route("api:household-settings-detail", "api", kwargs=_pk("household"), household_owned=True),
    Route("api:saved-filter-list", "api"),
    Route("api:saved-filter-detail", "api", kwargs=_pk("saved_filter")),
    Route("api:bulk-change-list", "api", roles=_BULK_VIEWERS),
    Route("api:bulk-change-detail", "api", roles=_BULK_VIEWERS, kwargs=_pk("bulk_change")),
    Route(
        "api:bulk-change-preview",
        "api",
        roles=_BULK_CHANGERS,
        method="post",
        json=True,
        data=lambda o: {
            "criteria": {"status": "active"},
            "operation": {"op": "set", "choice": "min_trade", "value": "100"},
        },
    ),
    Route(
        "api:bulk-change-reverse",
        "api",
        roles=_BULK_CHANGERS,
        kwargs=_pk("bulk_change"),
        method="post",
        json=True,
        data=lambda o: {"reason": "matrix"},
        ok=400,
        note="the matrix's bulk change touched no account: past the gates, 'nothing to reverse'",
    ),
    # --- Imports (feeds) ------------------------------------------------------------------------
    Route("feeds:import_list", "page", roles=_IMPORT_VIEWERS),
    Route("feeds:import_detail", "page", roles=_IMPORT_VIEWERS, kwargs=_pk("import_record")),
    Route("feeds:import_status", "page", roles=_IMPORT_VIEWERS, kwargs=_pk("import_record")),
    # --- Nightly runs ---------------------------------------------------------------------------
    Route("runs:run_list", "page"),
    Route("runs:run_detail", "page", kwargs=_pk("run")),
    Route("runs:account_analysis", "page", kwargs=_pk("account"), household_owned=True),
    Route(
        "runs:what_if",
        "page",
        roles=_IPC,
        kwargs=_pk("definition"),
        method="post",
        data=lambda o: {
            "content": '{"classes": {"Cash": {"weight": "1"}}}',
            "reason": "matrix what-if",
        },
        ok=302,
        note="runs the draft on the accounts it reaches (none here)",
    ),
    # --- API ------------------------------------------------------------------------------------
    Route("api:api-root", "api"),
    Route("api:schema", "api"),
    Route("api:docs", "api"),
    Route("api:household-list", "api"),
    Route("api:household-detail", "api", kwargs=_pk("household"), household_owned=True),
    Route("api:account-list", "api"),
    Route("api:account-detail", "api", kwargs=_pk("account"), household_owned=True),
    Route("api:position-list", "api"),
    Route("api:position-detail", "api", kwargs=_pk("position"), household_owned=True),
    Route("api:lot-list", "api"),
    Route("api:lot-detail", "api", kwargs=_pk("lot"), household_owned=True),
    Route("api:security-list", "api"),
    Route("api:security-detail", "api", kwargs=_pk("security")),
    Route("api:security-prices", "api", kwargs=_pk("security")),
]

#: Routes deliberately outside the matrix, by name or ``namespace:*``, with the reason.
EXCLUDED: dict[str, str] = {
    "admin:*": "Django admin: staff-only by Django's own gate, tested in tests/web/test_admin.py",
}

ROUTES_BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}
assert len(ROUTES_BY_NAME) == len(ROUTES), "duplicate route rows"


def is_excluded(name: str) -> bool:
    namespace = name.split(":", 1)[0] + ":*" if ":" in name else ""
    return name in EXCLUDED or namespace in EXCLUDED
