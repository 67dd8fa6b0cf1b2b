"""Every route, every kind of caller: the access matrix of tests/route_matrix.py.

anonymous -> login redirect (pages) or 401 (API); another firm's object -> 404; an advisor on an
unassigned household's object -> 404; a role without the right -> 403; the right role -> 2xx.
``test_every_route_is_in_the_matrix`` fails when a route is added without a row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.urls.exceptions import NoReverseMatch
from django.urls.resolvers import RegexPattern

from rebalancer.roles import Role
from tests.conftest import Cast, login
from tests.factories import UserFactory, member
from tests.route_matrix import (
    ROUTES,
    ROUTES_BY_NAME,
    Objects,
    Route,
    Which,
    is_excluded,
    objects_for,
)

pytestmark = pytest.mark.django_db


def _url(route: Route, objects: Objects | None) -> str:
    kwargs = route.kwargs(objects) if route.kwargs is not None and objects is not None else {}
    return reverse(route.name, kwargs=kwargs)


def _request(client: Client, route: Route, cast: Cast, which: Which = "a") -> Any:
    objects = objects_for(cast, which)
    url = _url(route, objects)
    headers = {"HX-Request": "true"} if route.htmx else {}
    if route.method == "post":
        data = route.data(objects) if route.data is not None else {}
        if route.json:
            return client.post(url, data, headers=headers, content_type="application/json")
        return client.post(url, data, headers=headers)
    return client.get(url, headers=headers)


def _as(user: Any) -> Client:
    return login(Client(), user)


def _firm_b_user(cast: Cast, route: Route) -> Any:
    """A firm-B user whose role the route allows (an admin when it may, never an advisor when
    another role may: the 404 must come from the firm boundary, not from household scoping)."""
    if Role.FIRM_ADMIN in route.roles:
        return cast.admin_b
    role = sorted(route.roles, key=lambda r: (r == Role.ADVISOR, r.value))[0]
    if role == Role.ADVISOR:
        return cast.advisor_b
    return member(cast.firm_b, role, f"b_{role.value}")


def _names(params: list[Route]) -> list[str]:
    return [route.name for route in params]


OBJECT_ROUTES = [r for r in ROUTES if r.kwargs is not None and r.kind != "public"]
HOUSEHOLD_ROUTES = [r for r in ROUTES if r.household_owned]


@pytest.mark.parametrize("route", ROUTES, ids=_names(ROUTES))
def test_anonymous(route: Route, cast: Cast) -> None:
    response = _request(Client(), route, cast)
    if route.kind == "api":
        assert response.status_code == 401
        assert response.has_header("WWW-Authenticate")
    elif route.kind == "page":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    else:
        assert response.status_code == route.ok


@pytest.mark.parametrize("route", ROUTES, ids=_names(ROUTES))
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_firm_a_role(route: Route, role: Role, cast: Cast) -> None:
    response = _request(_as(cast.user(role)), route, cast)
    expected = route.ok if route.kind == "public" or role in route.roles else 403
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=_names(OBJECT_ROUTES))
def test_other_firm_gets_404_and_own_firm_ok(route: Route, cast: Cast) -> None:
    client = _as(_firm_b_user(cast, route))
    assert _request(client, route, cast, "a").status_code == 404
    assert _request(client, route, cast, "b").status_code == route.ok


@pytest.mark.parametrize("route", HOUSEHOLD_ROUTES, ids=_names(HOUSEHOLD_ROUTES))
def test_advisor_gets_404_outside_assigned_households(route: Route, cast: Cast) -> None:
    client = _as(cast.user(Role.ADVISOR))
    assert _request(client, route, cast, "a_unassigned").status_code == 404
    assert _request(client, route, cast, "a").status_code == route.ok


@pytest.mark.parametrize("route", ROUTES, ids=_names(ROUTES))
def test_user_without_membership(route: Route, cast: Cast) -> None:
    outsider = UserFactory.create(username="no_firm")
    response = _request(_as(outsider), route, cast)
    expected = route.ok if route.kind == "public" else route.no_membership
    assert response.status_code == expected


# --- The matrix covers every route ------------------------------------------------------------


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, str, str]]:
    """(namespace prefix, full route name or '', pattern text) of every URL pattern."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield namespace, name, str(entry.pattern)


def routes_missing_from_matrix(resolver: URLResolver) -> list[str]:
    """Route names (or unnamed patterns) of ``resolver`` that the matrix does not cover."""
    routes = [
        (name, pattern)
        for namespace, name, pattern in _walk(resolver.url_patterns)
        if not is_excluded(name or f"{namespace}?")
    ]
    unnamed = sorted(f"unnamed pattern {pattern!r}" for name, pattern in routes if not name)
    return unnamed + sorted({name for name, _ in routes if name} - set(ROUTES_BY_NAME))


def test_every_route_is_in_the_matrix() -> None:
    missing = routes_missing_from_matrix(get_resolver())
    assert missing == [], f"add a row to tests/route_matrix.py for: {missing}"


def test_the_route_check_catches_a_new_route() -> None:
    patterns = [
        *get_resolver().url_patterns,
        path("new/", lambda request: HttpResponse(), name="new_page"),
        path("nameless/", lambda request: HttpResponse()),
    ]
    resolver = URLResolver(RegexPattern(r"^/"), patterns)
    assert routes_missing_from_matrix(resolver) == ["unnamed pattern 'nameless/'", "new_page"]


def test_every_matrix_row_is_a_route(cast: Cast) -> None:
    objects = objects_for(cast, "a")
    stale = []
    for route in ROUTES:
        try:
            _url(route, objects)
        except NoReverseMatch:
            stale.append(route.name)
    assert stale == [], f"rows for routes that do not exist: {stale}"
