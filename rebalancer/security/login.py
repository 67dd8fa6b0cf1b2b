"""The login page with a per-address limit beside django-axes' per-username lock-out.

django-axes locks a username after ``AXES_FAILURE_LIMIT`` failures; one address trying many
usernames would never trip that, so this view also refuses logins from an address with
``LOGIN_IP_FAILURE_LIMIT`` failures (any usernames) within the cool-off. The address is the
client's as seen through the configured trusted proxies only (:func:`client_ip`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, when that is a trusted proxy
    (``TRUSTED_PROXY_IPS``), the right-most X-Forwarded-For entry that is not one.

    A client can put anything in X-Forwarded-For; only addresses appended by our own proxies are
    believed, so a forged entry to the left of them is never used.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = [ipaddress.ip_network(net) for net in settings.TRUSTED_PROXY_IPS]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not is_trusted(remote):
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not is_trusted(address):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return remote  # garbage from the client: fall back to the proxy itself
    return remote


def ip_failures(address: str) -> int:
    """Failed logins from ``address`` within the cool-off, over every username."""
    since = timezone.now() - dt.timedelta(hours=settings.AXES_COOLOFF_TIME)
    total = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since).aggregate(
        total=Sum("failures_since_start")
    )["total"]
    return int(total or 0)


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if ip_failures(client_ip(request)) >= settings.LOGIN_IP_FAILURE_LIMIT:
            context = {"by_address": True, "failure_limit": settings.LOGIN_IP_FAILURE_LIMIT}
            return render(request, "registration/locked_out.html", context, status=429)
        return super().post(request, *args, **kwargs)
