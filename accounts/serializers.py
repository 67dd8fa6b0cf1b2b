"""Read serializers of the households/accounts API. Money and quantities are decimal strings.

Every field is read-only: a related field would otherwise default to the unscoped
``objects.all()``. Write endpoints will take ids and let a service resolve them through scoped
querysets (tests/authz/test_serializers.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Account, Household, Position, TaxLot


class HouseholdSerializer(serializers.ModelSerializer[Household]):
    class Meta:
        model = Household
        fields = ["id", "external_id", "name", "created_at"]
        read_only_fields = fields


class AccountSerializer(serializers.ModelSerializer[Account]):
    advisor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    flags: Any = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "household",
            "advisor",
            "name",
            "custodian",
            "account_number",
            "registration_type",
            "discretionary",
            "status",
            "cash_balance",
            "flags",
            "created_at",
        ]
        read_only_fields = fields


class PositionLotSerializer(serializers.ModelSerializer[TaxLot]):
    class Meta:
        model = TaxLot
        fields = ["id", "lot_id", "quantity", "cost_basis", "acquired_on"]
        read_only_fields = fields


class PositionSerializer(serializers.ModelSerializer[Position]):
    ticker = serializers.CharField(source="security.ticker", read_only=True)
    latest_close = serializers.DecimalField(
        max_digits=18, decimal_places=6, read_only=True, allow_null=True
    )
    latest_date = serializers.DateField(read_only=True, allow_null=True)
    market_value = serializers.DecimalField(
        max_digits=30,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="quantity x latest close, in dollars; null when the security has no price.",
    )
    lots = PositionLotSerializer(many=True, read_only=True)

    class Meta:
        model = Position
        fields = [
            "id",
            "account",
            "security",
            "ticker",
            "quantity",
            "latest_close",
            "latest_date",
            "market_value",
            "lots",
        ]
        read_only_fields = fields


class LotSerializer(serializers.ModelSerializer[TaxLot]):
    ticker = serializers.CharField(source="security.ticker", read_only=True)

    class Meta:
        model = TaxLot
        fields = [
            "id",
            "lot_id",
            "account",
            "position",
            "security",
            "ticker",
            "quantity",
            "cost_basis",
            "acquired_on",
        ]
        read_only_fields = fields
