"""API of saved filters (CRUD; private to their owner or shared) and bulk changes (list,
preview, apply, reverse). Writes call :mod:`accounts.saved_filters` and
:mod:`accounts.bulk_changes`; their field errors answer 400 naming each field."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.bulk_changes import (
    BulkChangeError,
    BulkPreview,
    bulk_change_apply,
    bulk_change_preview,
    bulk_change_reverse,
)
from accounts.filters import BulkChangeFilterSet, SavedFilterFilterSet
from accounts.models import BulkChange, SavedFilter
from accounts.saved_filters import (
    SavedFilterError,
    saved_filter_delete,
    saved_filter_list,
    saved_filter_save,
)
from models_hub.content import nul_path
from rebalancer.api import FirmScopedViewSet, service_error
from rebalancer.tenancy import membership_of


class SavedFilterSerializer(serializers.ModelSerializer[SavedFilter]):
    class Meta:
        model = SavedFilter
        fields = ["id", "name", "owner", "shared", "criteria", "created_at", "updated_at"]
        read_only_fields = fields


class SavedFilterWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    criteria = serializers.JSONField(help_text="AccountFilterSet parameters: {'custodian': 'x'}")
    shared = serializers.BooleanField(default=False)


class BulkChangeSerializer(serializers.ModelSerializer[BulkChange]):
    class Meta:
        model = BulkChange
        fields = [
            "id",
            "criteria",
            "operation",
            "description",
            "exemptions",
            "matched",
            "changed",
            "reverses",
            "created_at",
            "actor_label",
            "reason",
        ]
        read_only_fields = fields


class BulkRequestSerializer(serializers.Serializer[Any]):
    criteria = serializers.JSONField(
        required=False, help_text="AccountFilterSet parameters; or name a saved filter."
    )
    saved = serializers.IntegerField(min_value=1, required=False, help_text="A saved filter id.")
    operation = serializers.JSONField(help_text="{'op': ..., ...} (docs/customization.md).")
    exemptions = serializers.JSONField(required=False, help_text="[{account, reason}]")


class BulkApplySerializer(BulkRequestSerializer):
    reason = serializers.CharField(max_length=1000)


class BulkPreviewSerializer(serializers.Serializer[Any]):
    description = serializers.CharField()
    criteria = serializers.JSONField()
    operation = serializers.JSONField()
    matched = serializers.IntegerField()
    exempt = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    to_change = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=20, decimal_places=2)
    sample = serializers.JSONField(help_text="[{account_id, account, before, after, errors}]")
    failing = serializers.JSONField(help_text="Accounts that would break a limit, with why.")


class BulkReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=1000)


def _preview_json(preview: BulkPreview) -> dict[str, Any]:
    def row(r: Any) -> dict[str, Any]:
        return {
            "account_id": r.account_id,
            "account": r.account,
            "before": r.before,
            "after": r.after,
            "errors": list(r.errors),
        }

    return BulkPreviewSerializer(
        {
            "description": preview.description,
            "criteria": preview.criteria,
            "operation": preview.operation,
            "matched": preview.matched,
            "exempt": preview.exempt,
            "unchanged": preview.unchanged,
            "to_change": preview.to_change,
            "value": preview.value,
            "sample": [row(r) for r in preview.sample],
            "failing": [row(r) for r in preview.failing],
        }
    ).data


class SavedFilterViewSet(FirmScopedViewSet[SavedFilter]):
    """Your saved account filters and the firm's shared ones. Apply one with
    ``/accounts/?saved=<id>``. Only its owner may change or delete a filter."""

    queryset = SavedFilter.objects.all()
    serializer_class = SavedFilterSerializer
    filterset_class = SavedFilterFilterSet
    ordering = ("name", "pk")

    def scoped_queryset(self) -> QuerySet[SavedFilter]:
        rows = saved_filter_list(user=self.request.user).order_by(*self.ordering)
        filtered: QuerySet[SavedFilter] = self.filter_queryset(rows)
        return filtered

    def _write(self, request: Request, saved: SavedFilter | None) -> SavedFilter:
        body = SavedFilterWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _refuse_nul(body.validated_data)
        membership = membership_of(request.user)
        assert membership is not None
        try:
            return saved_filter_save(
                actor=request.user,  # type: ignore[arg-type]
                firm_id=membership.firm_id,
                name=body.validated_data["name"],
                criteria=body.validated_data["criteria"],
                shared=body.validated_data["shared"],
                saved_filter=saved,
            )
        except SavedFilterError as exc:
            raise service_error(exc.errors) from None

    @extend_schema(request=SavedFilterWriteSerializer, responses={201: SavedFilterSerializer})
    def create(self, request: Request) -> Response:
        saved = self._write(request, None)
        return Response(SavedFilterSerializer(saved).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SavedFilterWriteSerializer, responses=SavedFilterSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        saved = self._write(request, self.get_object())
        return Response(SavedFilterSerializer(saved).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        saved_filter_delete(actor=request.user, saved_filter=self.get_object())  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


def _refuse_nul(data: Any) -> None:
    """A NUL anywhere in the JSON body is a 400 naming where (PostgreSQL refuses it)."""
    where = nul_path(data)
    if where is not None:
        raise service_error({where: "contains a NUL character"})


def _criteria(request: Request, data: dict[str, Any]) -> Any:
    if data.get("saved") is not None:
        saved = saved_filter_list(user=request.user).filter(pk=data["saved"]).first()
        if saved is None:
            raise service_error({"saved": "not one of your saved filters"})
        return dict(saved.criteria)
    return data.get("criteria")


class BulkChangeViewSet(FirmScopedViewSet[BulkChange]):
    """Changes applied to every account a filter matched. ``preview`` writes nothing; POST
    applies (all or nothing: no matched, non-exempt account may break a limit); ``reverse``
    writes the old values back as a new change."""

    queryset = BulkChange.objects.all()
    serializer_class = BulkChangeSerializer
    filterset_class = BulkChangeFilterSet
    ordering = ("-created_at", "-pk")

    @extend_schema(request=BulkRequestSerializer, responses=BulkPreviewSerializer)
    @action(detail=False, methods=["post"], filterset_class=None)
    def preview(self, request: Request) -> Response:
        body = BulkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        _refuse_nul(data)
        try:
            preview = bulk_change_preview(
                user=request.user,
                criteria=_criteria(request, data),
                operation=data["operation"],
                exemptions=data.get("exemptions"),
            )
        except (BulkChangeError, SavedFilterError) as exc:
            raise service_error(exc.errors) from None
        return Response(_preview_json(preview))

    @extend_schema(request=BulkApplySerializer, responses={201: BulkChangeSerializer})
    def create(self, request: Request) -> Response:
        body = BulkApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        _refuse_nul(data)
        try:
            bulk = bulk_change_apply(
                actor=request.user,
                criteria=_criteria(request, data),
                operation=data["operation"],
                exemptions=data.get("exemptions"),
                reason=data["reason"],
            )
        except (BulkChangeError, SavedFilterError) as exc:
            raise service_error(exc.errors) from None
        return Response(BulkChangeSerializer(bulk).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BulkReasonSerializer, responses={201: BulkChangeSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def reverse(self, request: Request, pk: str | None = None) -> Response:
        bulk = self.get_object()
        body = BulkReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            done = bulk_change_reverse(
                actor=request.user, bulk_change=bulk, reason=body.validated_data["reason"]
            )
        except BulkChangeError as exc:
            raise service_error(exc.errors) from None
        return Response(BulkChangeSerializer(done).data, status=status.HTTP_201_CREATED)
