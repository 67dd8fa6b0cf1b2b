"""Read serializers of the securities API."""

from __future__ import annotations

from rest_framework import serializers

from models_hub.models import Price, Security


class SecuritySerializer(serializers.ModelSerializer[Security]):
    asset_class = serializers.CharField(
        source="asset_class.path", read_only=True, allow_null=True, default=None
    )
    latest_close = serializers.DecimalField(
        max_digits=18, decimal_places=6, read_only=True, allow_null=True
    )
    latest_date = serializers.DateField(read_only=True, allow_null=True)

    class Meta:
        model = Security
        fields = [
            "id",
            "ticker",
            "name",
            "security_type",
            "sector",
            "industry",
            "asset_class",
            "status",
            "is_synthetic",
            "source",
            "latest_close",
            "latest_date",
        ]
        read_only_fields = fields


class PriceSerializer(serializers.ModelSerializer[Price]):
    class Meta:
        model = Price
        fields = ["date", "close"]
        read_only_fields = fields
