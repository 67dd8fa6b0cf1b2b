"""Request-level guards that run before a view reads anything.

``RequestSizeLimitMiddleware``: a body larger than ``REQUEST_MAX_BYTES`` (by its Content-Length)
is refused with 413 before one byte of it is read. Django reads a request body only up to its
Content-Length, so the header is the bound; the multipart parser then streams files to disk.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


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
