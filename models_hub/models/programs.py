"""The investment policy committee's program: asset classes and versioned model definitions.

* :class:`AssetClass`: the firm's tree (``Equity > US > Large Cap``). Securities point at a leaf.
* :class:`Definition`: one named allocation, security model, strategy, equivalence set, screen or
  the firm's customization limits. Its content lives in :class:`DefinitionVersion` rows,
  append-only: an edit writes version ``n + 1`` (the header's ``current_version`` is the
  optimistic-concurrency check), so "what did this model say on date D" is read from history.
  A child stores only its overrides against its ``parent`` (kept per version); resolution walks
  the chain (``models_hub.resolve``).
* :class:`ModelSubscription`: a firm using another firm's published definitions, read-only.

Content formats are documented in ``docs/models.md`` and validated by ``models_hub.content``.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from rebalancer.append_only import AppendOnlyModel, AppendOnlyQuerySet
from rebalancer.roles import Resource
from rebalancer.tenancy import FirmOwned, FirmQuerySet

#: The separator of asset-class paths, in imports, exports and pages.
PATH_SEPARATOR = " > "


class AssetClassQuerySet(FirmQuerySet["AssetClass"]):
    pass


class AssetClass(FirmOwned):
    """A node of the firm's asset-class tree. ``path`` is the names from the root, kept on write."""

    tenancy_resource: ClassVar[Resource] = Resource.MODEL

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=400, help_text="Names from the root, joined by ' > '.")
    is_cash = models.BooleanField(
        default=False,
        help_text="Weight an allocation gives this class is held as cash when no security "
        "model fills it.",
    )

    objects = AssetClassQuerySet.as_manager()

    class Meta:
        ordering = ("path",)
        verbose_name_plural = "asset classes"
        constraints = [
            models.UniqueConstraint(fields=["firm", "path"], name="asset_class_unique_path"),
        ]

    def __str__(self) -> str:
        return self.path


class DefinitionKind(models.TextChoices):
    ALLOCATION = "allocation", "Allocation model"
    SECURITY_MODEL = "security_model", "Security model"
    STRATEGY = "strategy", "Strategy"
    EQUIVALENCE_SET = "equivalence_set", "Equivalence set"
    SCREEN = "screen", "Screen"
    LIMITS = "limits", "Customization limits"


#: Kinds whose definitions may inherit from a parent of the same kind.
INHERITING_KINDS = frozenset(
    {DefinitionKind.ALLOCATION, DefinitionKind.SECURITY_MODEL, DefinitionKind.STRATEGY}
)
#: Longest parent chain (a root is depth 1). Deeper chains are refused with a clear error.
MAX_INHERITANCE_DEPTH = 5


class DefinitionQuerySet(FirmQuerySet["Definition"]):
    pass


class Definition(FirmOwned):
    """A named, versioned model of the IPC. Its content is in :class:`DefinitionVersion`."""

    tenancy_resource: ClassVar[Resource] = Resource.MODEL

    kind = models.CharField(max_length=24, choices=DefinitionKind.choices)
    name = models.CharField(max_length=200)
    current_version = models.PositiveIntegerField(
        default=0, help_text="Number of the newest version; edits name it to detect a race."
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="The parent of the newest version (history keeps each version's own).",
    )
    published = models.BooleanField(
        default=False, help_text="Offered to subscribing firms (read-only for them)."
    )
    is_synthetic = models.BooleanField(
        default=False, help_text="Generated for the demo; labelled wherever shown."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DefinitionQuerySet.as_manager()

    class Meta:
        ordering = ("kind", "name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "kind", "name"], name="definition_unique_name_per_kind"
            ),
        ]
        indexes = [models.Index(fields=["firm", "kind", "name", "id"], name="definition_list")]

    def __str__(self) -> str:
        label = f"{self.name} (synthetic)" if self.is_synthetic else self.name
        return f"{self.get_kind_display()}: {label}"


class DefinitionVersionQuerySet(AppendOnlyQuerySet["DefinitionVersion"]):
    pass


class DefinitionVersion(AppendOnlyModel):
    """One version of a definition's content, exactly as saved. Append-only."""

    tenancy_resource: ClassVar[Resource] = Resource.MODEL

    definition = models.ForeignKey(Definition, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        Definition, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    content = models.JSONField(
        help_text="Canonical content (docs/models.md), overrides if a child."
    )
    content_hash = models.CharField(max_length=64, help_text="sha256 of the canonical content.")
    created_at = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    reason = models.TextField(blank=True)

    objects = DefinitionVersionQuerySet.as_manager()

    class Meta:
        ordering = ("definition", "number")
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "number"], name="definition_version_unique_number"
            ),
        ]
        indexes = [models.Index(fields=["firm", "created_at"], name="definition_version_asof")]

    def __str__(self) -> str:
        return f"{self.definition_id} v{self.number}"


class ModelSubscriptionQuerySet(FirmQuerySet["ModelSubscription"]):
    pass


class ModelSubscription(FirmOwned):
    """``firm`` (the subscriber) uses ``provider``'s published definitions, read-only.

    The provider sees nothing of the subscriber: subscriptions are rows of the subscriber's firm.
    Ending a subscription sets ``ended_at``; the row stays (resolution history needs it).
    """

    tenancy_resource: ClassVar[Resource] = Resource.MODEL

    provider = models.ForeignKey(
        "rebalancer.Firm", on_delete=models.PROTECT, related_name="subscribers"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = ModelSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ("provider", "started_at")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(firm=models.F("provider")), name="subscription_not_to_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.firm_id} subscribes to {self.provider_id}"
