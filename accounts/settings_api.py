"""API of customization: an account's and a household's settings (resolved, with sources) and
the writes through :func:`accounts.customization.settings_save`; the impact of a model.

``GET /account-settings/<id>/`` answers the account's own choices (``own``, ``version``) and the
resolution: effective target with provenance, every setting with its source, limits, and (not
for advisors) the optimizer knobs. ``PUT`` saves ``{content, expected_version, reason}``: 400
names each bad choice (a limit's message names the limit), 409 when someone saved first.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.customization import (
    Owner,
    SettingsConflict,
    SettingsError,
    current_version,
    owner_of,
    settings_save,
)
from accounts.impact import definition_impact
from accounts.models import Account, Household
from accounts.resolve import ResolvedAccount, ResolvedSetting, resolve_accounts
from accounts.selectors import account_list
from models_hub.program_selectors import definition_get
from rebalancer.api import Conflict, RolePermission, service_error
from rebalancer.roles import Resource, Role
from rebalancer.tenancy import membership_of


class SettingsWriteSerializer(serializers.Serializer[Any]):
    content = serializers.JSONField(
        help_text="This level's menu choices (docs/customization.md); omitted ones inherit."
    )
    expected_version = serializers.IntegerField(
        min_value=0, help_text="The version you read (0: none yet); 409 if it is not current."
    )
    reason = serializers.CharField(max_length=1000)


class AccountSettingsSerializer(serializers.Serializer[Any]):
    account = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The account's own settings version (0: none).")
    own = serializers.JSONField(help_text="The account's own choices.")
    resolved = serializers.JSONField(
        help_text="status, strategy, targets (with source), settings and limits (with source)."
    )
    knobs = serializers.JSONField(help_text="Optimizer inputs; not shown to advisors.")


class HouseholdSettingsSerializer(serializers.Serializer[Any]):
    household = serializers.IntegerField()
    version = serializers.IntegerField()
    own = serializers.JSONField()
    accounts = serializers.JSONField(help_text="Each account's resolved settings with sources.")


class ImpactSerializer(serializers.Serializer[Any]):
    definition = serializers.IntegerField()
    accounts = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=20, decimal_places=2)
    strategies = serializers.JSONField()
    how = serializers.CharField()


def _sourced(setting: ResolvedSetting) -> dict[str, Any]:
    return {"name": setting.name, "value": setting.value, "source": setting.source}


def resolved_json(resolved: ResolvedAccount) -> dict[str, Any]:
    return {
        "status": resolved.status,
        "problems": list(resolved.problems),
        "as_of": resolved.as_of,
        "strategy": resolved.strategy_id,
        "strategy_name": resolved.strategy,
        "cash_target": resolved.cash_target,
        "targets": [
            {
                "ticker": t.ticker,
                "weight": t.weight,
                "asset_class": t.asset_class,
                "source": t.source,
            }
            for t in resolved.targets
        ],
        "restrictions": [
            {"rule": r.rule, "what": r.what, "reason": r.reason, "source": r.source}
            for r in resolved.restrictions
        ],
        "settings": [
            {"name": s.name, "value": s.value, "source": s.source} for s in resolved.settings
        ],
        "limits": [{"name": s.name, "value": s.value, "source": s.source} for s in resolved.limits],
        "digest": resolved.digest,
    }


def _knobs(request: Request, resolved: ResolvedAccount) -> list[dict[str, Any]] | None:
    membership = membership_of(request.user)
    if membership is None or membership.role == Role.ADVISOR:
        return None  # advisors choose from menus and never see optimizer knobs
    return [
        {"field": k.field, "value": k.value, "choice": k.choice, "source": k.source, "why": k.why}
        for k in resolved.knobs
    ]


def _save(request: Request, owner: Owner) -> None:
    data = SettingsWriteSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        settings_save(
            actor=request.user,  # type: ignore[arg-type]
            owner=owner,
            content=data.validated_data["content"],
            expected_version=data.validated_data["expected_version"],
            reason=data.validated_data["reason"],
        )
    except SettingsConflict as exc:
        raise Conflict(str(exc)) from None
    except SettingsError as exc:
        raise service_error(exc.errors) from None


class AccountSettingsViewSet(viewsets.GenericViewSet[Account]):
    """One account's customization: read it resolved, save this account's own choices."""

    permission_classes = [RolePermission]
    tenancy_resource = Resource.ACCOUNT_SETTINGS
    queryset = Account.objects.all()
    serializer_class = AccountSettingsSerializer

    def _account(self) -> Account:
        account = (
            Account.objects.for_user(self.request.user)
            .select_related("household")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if account is None:
            raise Http404("No such account.")
        return account

    def _body(self, account: Account) -> dict[str, Any]:
        owner = owner_of(firm_id=account.firm_id, account=account)
        current = current_version(owner)
        resolved = resolve_accounts(account.firm_id, [account.pk])[account.pk]
        return {
            "account": account.pk,
            "version": current.number if current else 0,
            "own": current.content if current else {},
            "resolved": resolved_json(resolved),
            "knobs": _knobs(self.request, resolved),
        }

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._body(self._account()))

    @extend_schema(request=SettingsWriteSerializer, responses={200: AccountSettingsSerializer})
    def update(self, request: Request, pk: str | None = None) -> Response:
        account = self._account()
        _save(request, owner_of(firm_id=account.firm_id, account=account))
        return Response(self._body(self._account()))


class HouseholdSettingsViewSet(viewsets.GenericViewSet[Household]):
    """A household's own choices and its accounts' resolved settings side by side."""

    permission_classes = [RolePermission]
    tenancy_resource = Resource.ACCOUNT_SETTINGS
    queryset = Household.objects.all()
    serializer_class = HouseholdSettingsSerializer

    def _household(self) -> Household:
        household = (
            Household.objects.for_user(self.request.user).filter(pk=self.kwargs["pk"]).first()
        )
        if household is None:
            raise Http404("No such household.")
        return household

    def _body(self, household: Household) -> dict[str, Any]:
        owner = owner_of(firm_id=household.firm_id, household=household)
        current = current_version(owner)
        ids = list(
            account_list(user=self.request.user, household_id=household.pk).values_list(
                "pk", flat=True
            )
        )
        resolved = resolve_accounts(household.firm_id, ids)
        return {
            "household": household.pk,
            "version": current.number if current else 0,
            "own": current.content if current else {},
            "accounts": [
                {
                    "account": account_id,
                    "strategy": resolved[account_id].strategy_id,
                    "settings": [_sourced(s) for s in resolved[account_id].settings],
                }
                for account_id in ids
            ],
        }

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._body(self._household()))

    @extend_schema(request=SettingsWriteSerializer, responses={200: HouseholdSettingsSerializer})
    def update(self, request: Request, pk: str | None = None) -> Response:
        household = self._household()
        _save(request, owner_of(firm_id=household.firm_id, household=household))
        return Response(self._body(household))


class FirmSettingsSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="The firm default's version (0: none yet).")
    own = serializers.JSONField(help_text="The firm's default choices (and cost schedules).")


class FirmSettingsView(APIView):
    """The firm's default menu choices, under every strategy, household and account. Everyone
    reads; the IPC saves ``{content, expected_version, reason}`` (PUT)."""

    permission_classes = [RolePermission]
    tenancy_resource = Resource.MODEL

    def _owner(self, request: Request) -> Owner:
        membership = membership_of(request.user)
        assert membership is not None  # RolePermission let the request in
        return owner_of(firm_id=membership.firm_id)

    def _body(self, owner: Owner) -> dict[str, Any]:
        current = current_version(owner)
        return {
            "version": current.number if current else 0,
            "own": current.content if current else {},
        }

    @extend_schema(responses=FirmSettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._body(self._owner(request)))

    @extend_schema(request=SettingsWriteSerializer, responses=FirmSettingsSerializer)
    def put(self, request: Request) -> Response:
        owner = self._owner(request)
        _save(request, owner)
        return Response(self._body(owner))


class DefinitionImpactView(APIView):
    """How many accounts (that you can see), and how much money, a definition reaches: what a
    change to it would affect before it is saved."""

    permission_classes = [RolePermission]
    tenancy_resource = Resource.MODEL

    @extend_schema(responses=ImpactSerializer)
    def get(self, request: Request, pk: int) -> Response:
        definition = definition_get(user=request.user, definition_id=pk)
        membership = membership_of(request.user)
        if definition is None or membership is None or definition.firm_id != membership.firm_id:
            raise Http404("No such definition.")
        impact = definition_impact(user=request.user, definition=definition)
        return Response(
            ImpactSerializer(
                {
                    "definition": impact.definition_id,
                    "accounts": impact.accounts,
                    "value": impact.value,
                    "strategies": [{"id": i, "name": n} for i, n in impact.strategies],
                    "how": impact.how,
                }
            ).data
        )
