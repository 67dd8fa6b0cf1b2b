"""Households, accounts, positions and tax lots. Quantities and money are Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models
from guardian.models import UserObjectPermissionBase

from rebalancer.roles import Resource
from rebalancer.tenancy import FirmOwned, FirmQuerySet


class HouseholdQuerySet(FirmQuerySet["Household"]):
    pass


class Household(FirmOwned):
    """A family or client group whose accounts are managed together (wash sales span it)."""

    tenancy_resource: ClassVar[Resource] = Resource.HOUSEHOLD
    tenancy_household_path: ClassVar[str] = "id"

    external_id = models.CharField(max_length=64, help_text="The firm's own household id.")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "external_id"], name="household_unique_external_id_per_firm"
            )
        ]
        indexes = [models.Index(fields=["firm", "name", "id"], name="household_firm_name")]

    def __str__(self) -> str:
        return self.name


class HouseholdUserObjectPermission(UserObjectPermissionBase):
    """Guardian object permission with a direct FK: assigns a household to an advisor."""

    content_object = models.ForeignKey(Household, on_delete=models.CASCADE)


class RegistrationType(models.TextChoices):
    TAXABLE = "taxable", "Taxable"
    TRADITIONAL_IRA = "traditional_ira", "Traditional IRA"
    ROTH_IRA = "roth_ira", "Roth IRA"
    TRUST = "trust", "Trust"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class AccountFlagQuerySet(FirmQuerySet["AccountFlag"]):
    pass


class AccountFlag(FirmOwned):
    """A label users add to accounts (e.g. 'legacy concentrated', 'do not contact')."""

    tenancy_resource: ClassVar[Resource] = Resource.ACCOUNT

    name = models.CharField(max_length=64)

    objects = AccountFlagQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=["firm", "name"], name="account_flag_unique_per_firm")
        ]

    def __str__(self) -> str:
        return self.name


class AccountQuerySet(FirmQuerySet["Account"]):
    pass


class Account(FirmOwned):
    """A client account at a custodian. ``cash_balance`` is in dollars."""

    tenancy_resource: ClassVar[Resource] = Resource.ACCOUNT
    tenancy_household_path: ClassVar[str] = "household_id"

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="accounts")
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="advised_accounts",
    )
    name = models.CharField(max_length=200)
    custodian = models.CharField(max_length=64)
    account_number = models.CharField(max_length=64)
    registration_type = models.CharField(max_length=24, choices=RegistrationType.choices)
    discretionary = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    flags = models.ManyToManyField(AccountFlag, blank=True, related_name="accounts")
    cash_balance = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    # Positions at their securities' latest closes, kept on the account so lists, totals and
    # the home pages read one column instead of every position. Written only by
    # accounts.services (lots_sync after every lot change, book_revalue after every price load).
    securities_value = models.DecimalField(
        max_digits=24,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Positions at the latest closes, in dollars (kept by the lot and price writers).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ("household", "account_number")
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "custodian", "account_number"],
                name="account_unique_number_per_custodian_per_firm",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.custodian} {self.account_number})"


class PositionQuerySet(FirmQuerySet["Position"]):
    pass


class Position(FirmOwned):
    """Shares of one security held in one account. Always equals the sum of its tax lots.

    The invariant is kept by the services that write lots (they recompute the position in the same
    transaction) and checked by :func:`accounts.invariants.position_lot_mismatches`.
    """

    tenancy_resource: ClassVar[Resource] = Resource.POSITION
    tenancy_household_path: ClassVar[str] = "account__household_id"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    security = models.ForeignKey(
        "models_hub.Security", on_delete=models.PROTECT, related_name="positions"
    )
    quantity = models.DecimalField(max_digits=20, decimal_places=6)

    objects = PositionQuerySet.as_manager()

    class Meta:
        ordering = ("account", "security__ticker")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "security"], name="position_unique_security_per_account"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="position_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.security_id} x {self.quantity}"


class TaxLotQuerySet(FirmQuerySet["TaxLot"]):
    pass


class TaxLot(FirmOwned):
    """Shares bought on one date at one cost. ``cost_basis`` is total dollars for the lot."""

    tenancy_resource: ClassVar[Resource] = Resource.POSITION
    tenancy_household_path: ClassVar[str] = "account__household_id"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="lots")
    security = models.ForeignKey(
        "models_hub.Security", on_delete=models.PROTECT, related_name="lots"
    )
    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="lots")
    lot_id = models.CharField(max_length=64, help_text="The custodian's or firm's lot id.")
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    cost_basis = models.DecimalField(max_digits=20, decimal_places=2)
    acquired_on = models.DateField()

    objects = TaxLotQuerySet.as_manager()

    class Meta:
        ordering = ("account", "security__ticker", "acquired_on", "lot_id")
        constraints = [
            models.UniqueConstraint(fields=["firm", "lot_id"], name="lot_unique_id_per_firm"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="lot_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(cost_basis__gte=0), name="lot_cost_basis_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.lot_id}"

    @property
    def unit_cost(self) -> Decimal:
        return self.cost_basis / self.quantity
