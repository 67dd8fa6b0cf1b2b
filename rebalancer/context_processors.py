"""Template context: the current user's firm and role, for the base layout."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from rebalancer.tenancy import membership_of


def tenancy(request: HttpRequest) -> dict[str, Any]:
    membership = membership_of(getattr(request, "user", None))
    return {
        "membership": membership,
        "current_firm": membership.firm if membership else None,
        "current_role": membership.get_role_display() if membership else None,
        "demo_mode": settings.DEMO_MODE,
    }
