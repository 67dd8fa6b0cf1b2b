"""Append-only rows: the model layer refuses UPDATE and DELETE; on PostgreSQL the database does too.

A model that keeps history (model versions, settings versions, analyses, approvals) derives from
:class:`AppendOnlyModel`, uses a manager built from :class:`AppendOnlyQuerySet`, and is listed in
:data:`rebalancer.dbroles.APPEND_ONLY_MODELS` so its table gets the database triggers and grants.
A correction is a new row.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from rebalancer.models import AppendOnlyError
from rebalancer.tenancy import FirmOwned, FirmQuerySet

_M = TypeVar("_M", bound=models.Model)


class AppendOnlyQuerySet(FirmQuerySet[_M]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: UPDATE is refused")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: DELETE is refused")


class AppendOnlyModel(FirmOwned):
    """A firm-owned row that is written once and never changed or deleted."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} is append-only: UPDATE is refused")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self._meta.label} is append-only: DELETE is refused")
