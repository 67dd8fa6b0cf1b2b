"""Writing audit events: every state-changing service calls :func:`audit_record`."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from rebalancer.authz import Actor, actor_label, actor_user
from rebalancer.models import AuditEvent, Firm


def _jsonable(value: Any) -> Any:
    """Decimals, dates and other Django-serialisable values as plain JSON (Decimals as strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def audit_record(
    *,
    firm: Firm,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one audit event: who (a user, or a :class:`SystemActor`), what, before/after, why."""
    user = actor_user(actor)
    event = AuditEvent(
        firm=firm,
        actor=user,
        actor_label=actor_label(actor),
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
    )
    event.full_clean()
    event.save()
    return event
