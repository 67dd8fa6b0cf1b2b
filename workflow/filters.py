"""FilterSet of the import history (pages and API). Conventions: :mod:`rebalancer.filters`."""

from __future__ import annotations

from typing import ClassVar

import django_filters

from rebalancer.filters import FirmFilterSet, IdFilter, SearchFilter, ordering
from workflow.models import ImportKind, ImportRecord, ImportStatus

_MEASURE = "a count or measure, shown not filtered"


class ImportRecordFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("file_name",), iexact=("file_sha256",))
    kind = django_filters.ChoiceFilter(choices=ImportKind.choices)
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices)
    created_by = IdFilter(field_name="created_by_id")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    ordering = ordering(("created_at", "created_at"), ("kind", "kind"), ("status", "status"))

    not_filtered: ClassVar[dict[str, str]] = {
        "id": "rows are opened by their page, not filtered by id",
        "firm": "scoped: always the user's firm",
        "file_name": "searched by 'q'",
        "file_sha256": "searched by 'q' (exact)",
        "created_at": "filtered as 'created_after' / 'created_before'",
        "started_at": "shown on the import's page",
        "finished_at": "shown on the import's page",
        "file_size": _MEASURE,
        "lines": _MEASURE,
        "rows": _MEASURE,
        "created": _MEASURE,
        "updated": _MEASURE,
        "unchanged": _MEASURE,
        "deleted": _MEASURE,
        "skipped": _MEASURE,
        "error_count": _MEASURE,
        "duration_ms": _MEASURE,
        "attempts": "how many times a worker claimed it, shown on the import's page",
        "errors": "the error report, shown on the import's page",
        "detail": "JSON counts, shown on the import's page",
        "message": "one-line outcome, shown not filtered",
    }

    class Meta:
        model = ImportRecord
        fields: list[str] = []
