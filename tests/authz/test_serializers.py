"""API serializers never resolve a foreign key through an unscoped queryset."""

from __future__ import annotations

import inspect

import pytest
from rest_framework import serializers
from rest_framework.relations import RelatedField

import accounts.serializers
import models_hub.serializers

MODULES = [accounts.serializers, models_hub.serializers]
SERIALIZERS = [
    cls
    for module in MODULES
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, serializers.ModelSerializer) and cls.__module__ == module.__name__
]


@pytest.mark.parametrize("serializer", SERIALIZERS, ids=lambda s: s.__name__)
def test_related_fields_are_read_only(serializer: type[serializers.ModelSerializer]) -> None:  # type: ignore[type-arg]
    fields = serializer().fields
    for name, field in fields.items():
        related = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
        if isinstance(related, RelatedField):
            assert field.read_only, f"{serializer.__name__}.{name} would accept any row's id"


def test_there_are_serializers_to_check() -> None:
    assert len(SERIALIZERS) >= 6
