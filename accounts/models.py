"""Households, accounts, positions and tax lots. Quantities and money are Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models
from guardian.models import UserObjectPermissionBase

from rebalancer.append_only import AppendOnlyModel, AppendOnlyQuerySet
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
    settings_version = models.ForeignKey(
        "accounts.SettingsVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The household's newest settings version (kept by accounts.customization).",
    )
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
    settings_version = models.ForeignKey(
        "accounts.SettingsVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The account's newest settings version (kept by accounts.customization).",
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


# --------------------------------------------------------------------------- customization


class SettingsScope(models.TextChoices):
    FIRM = "firm", "Firm default"
    HOUSEHOLD = "household", "Household"
    ACCOUNT = "account", "Account"


class TaxSensitivity(models.TextChoices):
    INDIFFERENT = "indifferent", "Tax-indifferent"
    MODERATE = "moderate", "Moderate"
    SENSITIVE = "sensitive", "Sensitive"
    MAXIMUM = "maximum", "Maximum"


class SettingsVersionQuerySet(AppendOnlyQuerySet["SettingsVersion"]):
    pass


class SettingsVersion(AppendOnlyModel):
    """One version of the menu choices of a firm default, a household or an account. Append-only.

    ``content`` holds only the choices made at this level (docs/customization.md); the resolver
    layers firm default -> strategy -> household -> account. The extracted columns
    (``strategy``, ``tax_sensitivity``, ``restriction_count``, ``screens``,
    ``restricted_securities``) exist so filters can select accounts by their choices.
    """

    tenancy_resource: ClassVar[Resource] = Resource.ACCOUNT_SETTINGS
    tenancy_household_path: ClassVar[str] = "household_id"

    scope = models.CharField(max_length=16, choices=SettingsScope.choices)
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    number = models.PositiveIntegerField()
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    strategy = models.ForeignKey(
        "models_hub.Definition", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tax_sensitivity = models.CharField(max_length=16, choices=TaxSensitivity.choices, blank=True)
    restriction_count = models.PositiveIntegerField(default=0)
    screens = models.ManyToManyField("models_hub.Definition", blank=True, related_name="+")
    restricted_securities = models.ManyToManyField(
        "models_hub.Security", blank=True, related_name="+"
    )
    bulk_change = models.ForeignKey(
        "accounts.BulkChange", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    reason = models.TextField(blank=True)

    objects = SettingsVersionQuerySet.as_manager()

    class Meta:
        ordering = ("scope", "household", "account", "number")
        indexes = [
            models.Index(fields=["account", "created_at"], name="settings_account_asof"),
            models.Index(fields=["household", "created_at"], name="settings_household_asof"),
            models.Index(fields=["firm", "scope", "created_at"], name="settings_scope_asof"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "scope", "household", "account", "number"],
                name="settings_version_unique_number",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="firm", household__isnull=True, account__isnull=True)
                    | models.Q(scope="household", household__isnull=False, account__isnull=True)
                    | models.Q(scope="account", account__isnull=False)
                ),
                name="settings_version_scope_matches_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = self.account_id or self.household_id or "firm"
        return f"{self.scope} {owner} v{self.number}"


class SavedFilterQuerySet(FirmQuerySet["SavedFilter"]):
    pass


class SavedFilter(FirmOwned):
    """Named account-filter criteria (the AccountFilterSet's parameters), private or shared."""

    tenancy_resource: ClassVar[Resource] = Resource.SAVED_FILTER

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    shared = models.BooleanField(default=False, help_text="Visible to everyone in the firm.")
    criteria = models.JSONField(help_text="AccountFilterSet parameters, e.g. {'custodian': 'x'}.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedFilterQuerySet.as_manager()

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "owner", "name"], name="saved_filter_unique_name_per_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BulkChangeQuerySet(AppendOnlyQuerySet["BulkChange"]):
    pass


class BulkChange(AppendOnlyModel):
    """One change applied to every account a filter matched, minus named exemptions.

    Each account's change is a :class:`SettingsVersion` pointing here. A reversal is a new bulk
    change (``reverses``) that writes the previous value back; history is never edited.
    """

    tenancy_resource: ClassVar[Resource] = Resource.BULK_CHANGE

    criteria = models.JSONField(help_text="The filter's parameters when it was applied.")
    operation = models.JSONField(help_text="What changed (docs/customization.md, bulk changes).")
    description = models.CharField(max_length=300)
    exemptions = models.JSONField(default=list, help_text="[{account, reason}] left unchanged.")
    matched = models.PositiveIntegerField()
    changed = models.PositiveIntegerField()
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    reason = models.TextField()

    objects = BulkChangeQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.description


# --------------------------------------------------------------------------- realized sales


class RealizedSaleQuerySet(FirmQuerySet["RealizedSale"]):
    pass


class RealizedSale(FirmOwned):
    """A sale the custodian settled: shares of one lot sold on one date, with its gain's term.

    Fed by the transactions import (``workflow/feeds/transactions.py``); the nightly adapter
    derives the year-to-date realized gains by term and the wash-sale look-back from them.
    Written only by :func:`accounts.transactions.realized_sales_record`.
    """

    tenancy_resource: ClassVar[Resource] = Resource.POSITION
    tenancy_household_path: ClassVar[str] = "account__household_id"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="realized_sales")
    security = models.ForeignKey(
        "models_hub.Security", on_delete=models.PROTECT, related_name="realized_sales"
    )
    lot_id = models.CharField(max_length=64)
    trade_date = models.DateField()
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    proceeds = models.DecimalField(max_digits=20, decimal_places=2)
    cost_basis = models.DecimalField(max_digits=20, decimal_places=2)
    term = models.CharField(max_length=2, choices=[("ST", "Short term"), ("LT", "Long term")])

    objects = RealizedSaleQuerySet.as_manager()

    class Meta:
        ordering = ("account", "trade_date", "lot_id")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "lot_id", "trade_date"], name="realized_sale_unique_key"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="realized_sale_quantity_positive"
            ),
        ]
        indexes = [models.Index(fields=["firm", "trade_date"], name="realized_sale_by_date")]

    def __str__(self) -> str:
        return f"{self.trade_date} sold {self.quantity} of lot {self.lot_id}"

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.cost_basis
