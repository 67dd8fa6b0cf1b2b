"""Security master and daily prices, owned per firm.

Market data is firm-owned like everything else: a firm's data manager imports its own security
master and prices, so one firm's feed can never change what another firm sees.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from rebalancer.roles import Resource
from rebalancer.tenancy import FirmOwned, FirmQuerySet


class SecurityType(models.TextChoices):
    STOCK = "stock", "Stock"
    ETF = "etf", "ETF"
    MUTUAL_FUND = "mutual_fund", "Mutual fund"
    BOND_FUND = "bond_fund", "Bond fund"
    CASH = "cash", "Cash"


class SecurityStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    UNKNOWN = "unknown", "Unknown"
    DELISTED = "delisted", "Delisted"


class SecurityQuerySet(FirmQuerySet["Security"]):
    pass


class Security(FirmOwned):
    """One instrument in a firm's security master. ``is_synthetic`` marks generated data."""

    tenancy_resource: ClassVar[Resource] = Resource.SECURITY

    ticker = models.CharField(max_length=16)
    name = models.CharField(max_length=200)
    security_type = models.CharField(max_length=16, choices=SecurityType.choices)
    sector = models.CharField(max_length=100, blank=True)
    industry = models.CharField(max_length=150, blank=True)
    asset_class = models.ForeignKey(
        "models_hub.AssetClass",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="securities",
        help_text="A leaf of the firm's asset-class tree (imports name it by its path).",
    )
    status = models.CharField(
        max_length=16, choices=SecurityStatus.choices, default=SecurityStatus.ACTIVE
    )
    is_synthetic = models.BooleanField(
        default=False, help_text="Generated deterministically for demos; labelled wherever shown."
    )
    source = models.CharField(max_length=200, blank=True, help_text="Where the row came from.")
    # The latest close, kept beside the security so lists and valuations read it without probing
    # the price history per row. Written only by models_hub.services.security_last_close_refresh,
    # which every price writer calls in the transaction that writes the prices.
    last_close = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="Latest close."
    )
    last_close_date = models.DateField(null=True, blank=True, help_text="Date of the latest close.")

    objects = SecurityQuerySet.as_manager()

    class Meta:
        ordering = ("ticker",)
        verbose_name_plural = "securities"
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "ticker"], name="security_unique_ticker_per_firm"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticker} (synthetic)" if self.is_synthetic else self.ticker


class PriceQuerySet(FirmQuerySet["Price"]):
    pass


class Price(FirmOwned):
    """Daily close of a security, split-adjusted, in dollars per share."""

    tenancy_resource: ClassVar[Resource] = Resource.PRICE

    security = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="prices")
    date = models.DateField()
    close = models.DecimalField(max_digits=18, decimal_places=6)

    objects = PriceQuerySet.as_manager()

    class Meta:
        ordering = ("security", "date")
        constraints = [
            models.UniqueConstraint(fields=["security", "date"], name="price_unique_security_date"),
            models.CheckConstraint(condition=models.Q(close__gt=0), name="price_close_positive"),
        ]
        indexes = [models.Index(fields=["firm", "date"])]

    def __str__(self) -> str:
        return f"{self.security_id} {self.date} {self.close}"
