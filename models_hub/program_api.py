"""API of the IPC's program: asset classes, definitions (effective model with provenance,
versions, create, new version, publish) and provider subscriptions.

Reads are :class:`~rebalancer.api.FirmScopedViewSet` lists; writes are actions that validate the
body and call one service. A service's field errors answer 400 naming each field; a stale
``expected_version`` answers 409. Only the IPC may write (the role table); a subscribed
provider's definition is read-only (404 on a write).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from models_hub.content import decimal_text
from models_hub.effective import (
    EffectiveWeights,
    ResolutionError,
    VersionStore,
    effective_strategy,
    effective_weights,
)
from models_hub.filters import (
    AssetClassFilterSet,
    DefinitionFilterSet,
    ModelSubscriptionFilterSet,
)
from models_hub.models import AssetClass, Definition, DefinitionKind, ModelSubscription
from models_hub.program_selectors import definition_list, version_history, version_store_load
from models_hub.program_services import (
    ConcurrentEdit,
    ProgramError,
    asset_classes_ensure,
    definition_create,
    definition_publish,
    definition_save,
    subscription_end,
    subscription_start,
)
from rebalancer.api import Conflict, FirmScopedViewSet, service_error
from rebalancer.tenancy import membership_of

# --- serializers ------------------------------------------------------------------------------


class AssetClassSerializer(serializers.ModelSerializer[AssetClass]):
    class Meta:
        model = AssetClass
        fields = ["id", "path", "name", "parent", "is_cash"]
        read_only_fields = fields


class AssetClassCreateSerializer(serializers.Serializer[Any]):
    path = serializers.CharField(max_length=400, help_text="'Equity > US > Large Cap'")


class DefinitionSerializer(serializers.ModelSerializer[Definition]):
    subscribed = serializers.SerializerMethodField(
        help_text="A subscribed provider's definition: usable, read-only."
    )

    class Meta:
        model = Definition
        fields = [
            "id",
            "kind",
            "name",
            "current_version",
            "parent",
            "published",
            "is_synthetic",
            "firm",
            "subscribed",
        ]
        read_only_fields = fields

    def get_subscribed(self, definition: Definition) -> bool:
        return bool(definition.firm_id != self.context.get("firm_id"))


class DefinitionDetailSerializer(DefinitionSerializer):
    content = serializers.JSONField(help_text="This version's own content (docs/models.md).")
    effective = serializers.JSONField(
        help_text="Effective weights (each with its source), or the effective strategy."
    )
    diff = serializers.JSONField(help_text="Against the parent's effective model.")
    resolution_error = serializers.CharField()

    class Meta(DefinitionSerializer.Meta):
        fields = [*DefinitionSerializer.Meta.fields, "content", "effective", "diff"]
        fields.append("resolution_error")
        read_only_fields = fields


class VersionSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    parent_id = serializers.IntegerField(allow_null=True)
    content = serializers.JSONField()
    content_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    actor_label = serializers.CharField()
    reason = serializers.CharField()


class DefinitionCreateSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=DefinitionKind.choices)
    name = serializers.CharField(max_length=200)
    parent_id = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    content = serializers.JSONField()
    reason = serializers.CharField(max_length=1000, allow_blank=True, required=False)


class DefinitionVersionSerializer(serializers.Serializer[Any]):
    content = serializers.JSONField()
    expected_version = serializers.IntegerField(
        min_value=0, help_text="The version your change starts from (409 if it is not current)."
    )
    reason = serializers.CharField(max_length=1000)
    parent_id = serializers.IntegerField(
        min_value=1, allow_null=True, required=False, help_text="Omit to keep the parent."
    )


class PublishSerializer(serializers.Serializer[Any]):
    published = serializers.BooleanField()
    reason = serializers.CharField(max_length=1000)


class SubscriptionSerializer(serializers.ModelSerializer[ModelSubscription]):
    provider_name = serializers.CharField(source="provider.name", read_only=True)

    class Meta:
        model = ModelSubscription
        fields = ["id", "provider", "provider_name", "started_at", "ended_at"]
        read_only_fields = fields


class SubscriptionCreateSerializer(serializers.Serializer[Any]):
    provider = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=1000)


class ProgramReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=1000)


def _valid(serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- effective model as JSON ----------------------------------------------------------------


def _weights_json(weights: EffectiveWeights) -> dict[str, Any]:
    return {
        "definition": weights.definition_id,
        "name": weights.name,
        "version": weights.version,
        "asset_class": weights.asset_class,
        "index": weights.index,
        "total": decimal_text(weights.total),
        "entries": [
            {
                "key": e.key,
                "weight": decimal_text(e.weight),
                "source": e.source,
                "band": decimal_text(e.band),
                "band_kind": e.band_kind,
            }
            for e in weights.entries
        ],
    }


def definition_json(store: VersionStore, definition: Definition) -> dict[str, Any]:
    """Own content, effective model with provenance and the diff against the parent."""
    out: dict[str, Any] = {"content": {}, "effective": None, "diff": [], "resolution_error": ""}
    version = store.versions.get(definition.pk)
    if version is None:
        out["resolution_error"] = "no version in force"
        return out
    out["content"] = dict(version.content)
    try:
        if definition.kind in (DefinitionKind.ALLOCATION, DefinitionKind.SECURITY_MODEL):
            here = effective_weights(store, definition.pk)
            out["effective"] = _weights_json(here)
            if version.parent_id is not None:
                before = effective_weights(store, version.parent_id).as_dict()
                after = here.as_dict()
                for key in sorted(set(before) | set(after)):
                    old, new = before.get(key), after.get(key)
                    change = (
                        "added"
                        if old is None
                        else "removed"
                        if new is None
                        else ("reweighted" if old != new else "inherited")
                    )
                    out["diff"].append(
                        {
                            "key": key,
                            "parent": None if old is None else decimal_text(old),
                            "here": None if new is None else decimal_text(new),
                            "change": change,
                        }
                    )
        elif definition.kind == DefinitionKind.STRATEGY:
            s = effective_strategy(store, definition.pk)
            out["effective"] = {
                "risk_profile": s.risk_profile,
                "allocation": _weights_json(s.allocation),
                "allocation_source": s.allocation_source,
                "sleeves": [
                    {"asset_class": path, "model": _weights_json(model), "source": source}
                    for path, model, source in s.sleeves
                ],
                "limits": {k: {"value": v.value, "source": v.source} for k, v in s.limits.items()},
                "settings": {
                    k: {"value": v.value, "source": v.source} for k, v in s.settings.items()
                },
            }
    except ResolutionError as exc:
        out["resolution_error"] = str(exc)
    return out


# --- viewsets ---------------------------------------------------------------------------------


def _firm_id(request: Request) -> int:
    membership = membership_of(request.user)
    assert membership is not None  # RolePermission let the request in
    return membership.firm_id


class AssetClassViewSet(FirmScopedViewSet[AssetClass]):
    """Your firm's asset-class tree (``path`` names from the root). POST adds a class by path,
    with its ancestors (IPC)."""

    queryset = AssetClass.objects.all()
    serializer_class = AssetClassSerializer
    filterset_class = AssetClassFilterSet
    ordering = ("path", "pk")

    @extend_schema(request=AssetClassCreateSerializer, responses={201: AssetClassSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(AssetClassCreateSerializer, request)
        try:
            made = asset_classes_ensure(
                actor=request.user,  # type: ignore[arg-type]
                firm_id=_firm_id(request),
                paths=[data["path"]],
            )
        except ProgramError as exc:
            raise service_error(exc.errors) from None
        (node,) = made.values()
        return Response(AssetClassSerializer(node).data, status=status.HTTP_201_CREATED)


class DefinitionViewSet(FirmScopedViewSet[Definition]):
    """Allocations, security models, strategies, equivalence sets, screens and limits: your
    firm's, and (``read_only``) the published ones of providers you subscribe to. The detail
    has the effective model, every weight with its source, and the diff against the parent."""

    queryset = Definition.objects.all()
    serializer_class = DefinitionSerializer
    filterset_class = DefinitionFilterSet
    ordering = ("kind", "name", "pk")

    def scoped_queryset(self) -> QuerySet[Definition]:
        # The firm's own (for_user) and its providers' published ones: definition_list.
        rows = definition_list(user=self.request.user).order_by(*self.ordering)
        filtered: QuerySet[Definition] = self.filter_queryset(rows)
        return filtered

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        membership = membership_of(self.request.user)
        context["firm_id"] = membership.firm_id if membership else None
        return context

    def _detail(self, definition: Definition) -> dict[str, Any]:
        store = version_store_load(_firm_id(self.request))
        data = dict(DefinitionSerializer(definition, context=self.get_serializer_context()).data)
        return {**data, **definition_json(store, definition)}

    @extend_schema(responses=DefinitionDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._detail(self.get_object()))

    @extend_schema(request=DefinitionCreateSerializer, responses={201: DefinitionDetailSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(DefinitionCreateSerializer, request)
        try:
            saved = definition_create(
                actor=request.user,  # type: ignore[arg-type]
                firm_id=_firm_id(request),
                kind=data["kind"],
                name=data["name"],
                content=data["content"],
                parent_id=data.get("parent_id"),
                reason=data.get("reason", ""),
            )
        except ProgramError as exc:
            raise service_error(exc.errors) from None
        return Response(self._detail(saved.definition), status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], responses=VersionSerializer(many=True), request=None, filters=False
    )
    @extend_schema(
        methods=["POST"],
        request=DefinitionVersionSerializer,
        responses={201: DefinitionDetailSerializer, 409: None},
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """GET: the history, newest first (who, when, why). POST: a new version (IPC)."""
        definition = self.get_object()
        if request.method == "GET":
            rows: Any = version_history(user=request.user, definition=definition)
            page: Any = self.paginate_queryset(rows)
            return self.get_paginated_response(VersionSerializer(page, many=True).data)
        data = _valid(DefinitionVersionSerializer, request)
        try:
            definition_save(
                actor=request.user,  # type: ignore[arg-type]
                definition=definition,
                content=data["content"],
                expected_version=data["expected_version"],
                reason=data["reason"],
                parent_id=data.get("parent_id", "keep"),
            )
        except ConcurrentEdit as exc:
            raise Conflict(str(exc)) from None
        except ProgramError as exc:
            raise service_error(exc.errors) from None
        definition.refresh_from_db()
        return Response(self._detail(definition), status=status.HTTP_201_CREATED)

    @extend_schema(request=PublishSerializer, responses=DefinitionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def publish(self, request: Request, pk: str | None = None) -> Response:
        """Offer the definition to subscribing firms, or stop (IPC, with a reason)."""
        definition = self.get_object()
        data = _valid(PublishSerializer, request)
        try:
            definition_publish(
                actor=request.user,  # type: ignore[arg-type]
                definition=definition,
                published=data["published"],
                reason=data["reason"],
            )
        except ProgramError as exc:
            raise service_error(exc.errors) from None
        return Response(
            DefinitionSerializer(definition, context=self.get_serializer_context()).data
        )


class SubscriptionViewSet(FirmScopedViewSet[ModelSubscription]):
    """Your firm's subscriptions to model providers. POST starts one; ``end`` ends it (IPC)."""

    queryset = ModelSubscription.objects.all()
    serializer_class = SubscriptionSerializer
    filterset_class = ModelSubscriptionFilterSet
    ordering = ("-started_at", "pk")

    def refine_queryset(self, queryset: QuerySet[ModelSubscription]) -> QuerySet[ModelSubscription]:
        return queryset.select_related("provider")

    @extend_schema(request=SubscriptionCreateSerializer, responses={201: SubscriptionSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(SubscriptionCreateSerializer, request)
        try:
            subscription = subscription_start(
                actor=request.user,  # type: ignore[arg-type]
                firm_id=_firm_id(request),
                provider_id=data["provider"],
                reason=data["reason"],
            )
        except ProgramError as exc:
            raise service_error(exc.errors) from None
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProgramReasonSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def end(self, request: Request, pk: str | None = None) -> Response:
        subscription = self.get_object()
        data = _valid(ProgramReasonSerializer, request)
        try:
            subscription_end(
                actor=request.user,  # type: ignore[arg-type]
                subscription=subscription,
                reason=data["reason"],
            )
        except ProgramError as exc:
            raise service_error(exc.errors) from None
        subscription.refresh_from_db()
        return Response(SubscriptionSerializer(subscription).data)
