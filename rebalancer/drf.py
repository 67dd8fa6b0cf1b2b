"""API-wide settings classes, kept apart from :mod:`rebalancer.api` so DRF can import them while
its own settings load (``DEFAULT_PAGINATION_CLASS``, ``EXCEPTION_HANDLER``)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from rebalancer.authz import NotAuthorized

#: Largest ``page_size`` the API serves.
MAX_PAGE_SIZE = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with a hidden :class:`~rebalancer.authz.NotAuthorized` answered 404."""
    if isinstance(exc, NotAuthorized) and exc.hidden:
        exc = NotFound("Not found.")
    return drf_exception_handler(exc, context)


class Pagination(PageNumberPagination):
    """``?page=N`` and ``?page_size=N`` (at most :data:`MAX_PAGE_SIZE`); past the end: 404."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class KeysetPagination(CursorPagination):
    """For the lists with millions of rows (positions, lots): ``?cursor=`` links in id order and
    ``?page_size=N``, without a total count. A page costs the same wherever it is: no COUNT over
    the firm's 7.7 million lots and no OFFSET that reads every skipped row."""

    ordering = "pk"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
