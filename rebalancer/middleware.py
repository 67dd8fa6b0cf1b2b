"""Request-level guards: body size, session lifetime, the second factor.

``RequestSizeLimitMiddleware``: a body larger than ``REQUEST_MAX_BYTES`` (by its Content-Length)
is refused with 413 before one byte of it is read. Django reads a request body only up to its
Content-Length, so the header is the bound; the multipart parser then streams files to disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit: int = settings.REQUEST_MAX_BYTES
        if not declared.isascii() or not declared.isdigit():
            return HttpResponse("Malformed Content-Length.", status=400, content_type="text/plain")
        if int(declared) > limit:
            return HttpResponse(
                f"The request is larger than {limit // (1024 * 1024)} MB and was not read.",
                status=413,
                content_type="text/plain",
            )
        return self.get_response(request)


#: Session keys: when (epoch seconds) the session logged in and last made a request, and whether
#: the user had enrolled a second factor at login.
SESSION_STARTED_KEY = "rebalancer_login_at"
SESSION_SEEN_KEY = "rebalancer_seen_at"
SESSION_ENROLLED_KEY = "rebalancer_twofactor_enrolled"
#: The last-request time is written at most this often (seconds), not on every request.
SEEN_RESOLUTION = 60


def session_start(request: HttpRequest, user: Any) -> None:
    """At login (django.contrib.auth's user_logged_in, connected in RebalancerConfig.ready)."""
    from rebalancer.security.twofactor import twofactor_enrolled

    now = int(time.time())
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_SEEN_KEY] = now
    request.session[SESSION_ENROLLED_KEY] = twofactor_enrolled(user)


class SessionLifetimeMiddleware:
    """Sessions end ``SESSION_IDLE_SECONDS`` after the last request (to the minute) and
    ``SESSION_ABSOLUTE_SECONDS`` after login, whatever happens in between.

    The session cookie itself lives ``SESSION_ABSOLUTE_SECONDS`` (SESSION_COOKIE_AGE).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.contrib.auth import logout
        from django.contrib.auth.views import redirect_to_login

        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.get(SESSION_STARTED_KEY)
            seen = session.get(SESSION_SEEN_KEY)
            if started is None or seen is None:
                session_start(request, request.user)
            elif (
                now - int(started) > settings.SESSION_ABSOLUTE_SECONDS
                or now - int(seen) > settings.SESSION_IDLE_SECONDS
            ):
                logout(request)
                return redirect_to_login(request.get_full_path())
            elif now - int(seen) >= SEEN_RESOLUTION:
                session[SESSION_SEEN_KEY] = now
        return self.get_response(request)


#: URL names a user who still owes a second factor may open.
TWOFACTOR_OPEN = frozenset(
    {
        "login",
        "logout",
        "twofactor_setup",
        "twofactor_verify",
        "password_reset_confirm",
        "password_reset_complete",
    }
)


class TwoFactorMiddleware:
    """Firm admins, the platform operator and anyone enrolled must pass TOTP before anything else.

    Runs after django-otp's OTPMiddleware (``request.user.is_verified()``). A user who owes the
    second factor is sent to verify it, or to enrol first if they have no authenticator yet.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        from rebalancer.security.twofactor import twofactor_enrolled, twofactor_required

        user: Any = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and match.url_name in TWOFACTOR_OPEN:
            return None
        if not twofactor_required(user, enrolled=request.session.get(SESSION_ENROLLED_KEY)):
            return None
        target = "twofactor_verify" if twofactor_enrolled(user) else "twofactor_setup"
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.path})}")


#: Only the app's own files: no inline scripts or styles, no other origin, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every response, and ``Cache-Control: no-store`` on every
    page and API response (static files, answered earlier by WhiteNoise, stay cacheable).

    Hand-written rather than django-csp: one fixed policy and one header do not need a library.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.utils.cache import add_never_cache_headers

        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        add_never_cache_headers(response)
        return response
