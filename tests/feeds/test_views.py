"""The upload page, the history, one import's report and the htmx status partial."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from models_hub.models import Price
from rebalancer.authz import SystemActor
from rebalancer.roles import Role
from tests.conftest import Cast, login
from tests.feeds.conftest import csv_bytes, run, snapshot
from workflow.models import ImportRecord, ImportStatus

# Uploads run their import through Celery; these tests check the page, so run it in-process.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]

LIST = reverse("feeds:import_list")
PRICES = "ticker,date,close\nAAPL,2020-01-02,300.35\n"


def client_for(user: Any) -> Client:
    return login(Client(), user)


def upload(client: Client, text: str, *, name: str = "prices.csv", kind: str = "prices") -> Any:
    file = SimpleUploadedFile(name, csv_bytes(text), content_type="text/csv")
    return client.post(LIST, {"kind": kind, "file": file})


def test_data_manager_uploads_and_the_import_runs(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(cast.user(Role.DATA_MANAGER))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, PRICES)
    record = ImportRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("feeds:import_detail", args=[record.pk])
    assert record.status == ImportStatus.APPLIED, record.errors
    assert record.created_by == cast.user(Role.DATA_MANAGER)
    assert Price.objects.filter(firm=cast.firm_a).count() == 2
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Applied" in page.content and b"1 created" in page.content


def test_rejected_upload_shows_every_error(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(cast.user(Role.DATA_MANAGER))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "ticker,date,close\nZZZ,2020-01-02,1\nAAPL,2020-13-01,1\n")
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "Error report: 2 errors" in body
    assert "<td>2</td><td>ticker</td><td><code>ZZZ</code></td><td>unknown ticker</td>" in body
    assert "malformed date (no such day)" in body
    assert "<td>3</td><td>date</td>" in body


def test_upload_form_errors_change_nothing(cast: Cast) -> None:
    before = snapshot()
    response = upload(client_for(cast.user(Role.DATA_MANAGER)), PRICES, name="prices.xlsx")
    assert response.status_code == 400
    assert b"must end in .csv or .csv.gz" in response.content
    assert not ImportRecord.objects.exists()
    assert snapshot() == before


@pytest.mark.parametrize(
    "role", [Role.FIRM_ADMIN, Role.COMPLIANCE, Role.ADVISOR, Role.IPC, Role.MANAGEMENT]
)
def test_other_roles_may_not_upload(cast: Cast, role: Role) -> None:
    response = upload(client_for(cast.user(role)), PRICES)
    assert response.status_code == 403
    assert not ImportRecord.objects.exists()


@pytest.mark.parametrize(
    ("role", "status", "form"),
    [
        (Role.DATA_MANAGER, 200, True),
        (Role.FIRM_ADMIN, 200, False),
        (Role.COMPLIANCE, 200, False),
        (Role.ADVISOR, 403, False),
        (Role.IPC, 403, False),
        (Role.OVERLAY_MANAGER, 403, False),
        (Role.MANAGEMENT, 403, False),
    ],
)
def test_history_is_for_roles_that_may_view_imports(
    cast: Cast, role: Role, status: int, form: bool
) -> None:
    run(cast, "prices", PRICES, name="history.csv")
    response = client_for(cast.user(role)).get(LIST)
    assert response.status_code == status
    if status == 200:
        assert b"history.csv" in response.content
        assert (b'enctype="multipart/form-data"' in response.content) is form


def test_history_shows_only_the_firms_own_imports(
    cast: Cast, django_assert_max_num_queries: Any
) -> None:
    run(cast, "prices", PRICES, name="alpha-prices.csv")
    run(cast, "prices", PRICES, name="beta-prices.csv", firm=cast.firm_b, actor=SystemActor.COMMAND)
    client = client_for(cast.user(Role.DATA_MANAGER))
    with django_assert_max_num_queries(10):
        response = client.get(LIST)
    assert b"alpha-prices.csv" in response.content
    assert b"beta-prices.csv" not in response.content


def test_another_firms_import_is_not_found(cast: Cast) -> None:
    other = run(cast, "prices", PRICES, firm=cast.firm_b, actor=SystemActor.COMMAND)
    client = client_for(cast.user(Role.DATA_MANAGER))
    for name in ("feeds:import_detail", "feeds:import_status"):
        assert client.get(reverse(name, args=[other.pk])).status_code == 404
    # ... and firm B's admin sees it.
    assert (
        client_for(cast.admin_b).get(reverse("feeds:import_detail", args=[other.pk])).status_code
        == 200
    )


def test_anonymous_users_are_sent_to_log_in(cast: Cast) -> None:
    record = run(cast, "prices", PRICES)
    for url in (
        LIST,
        reverse("feeds:import_detail", args=[record.pk]),
        reverse("feeds:import_status", args=[record.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_status_partial_polls_while_queued_and_stops_when_final(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(cast.user(Role.DATA_MANAGER))
    upload(client, PRICES)  # on_commit not run: the import stays queued
    record = ImportRecord.objects.get()
    url = reverse("feeds:import_status", args=[record.pk])
    queued = client.get(url + "?refresh=1", HTTP_HX_REQUEST="true")
    body = queued.content.decode()
    assert queued.status_code == 200
    assert "<html" not in body  # a partial, not a page
    assert "Queued" in body and 'hx-trigger="every 2s"' in body
    assert f'hx-get="{url}?refresh=1"' in body
    assert "HX-Refresh" not in queued

    from workflow.tasks import import_run

    import_run(record.pk)
    done = client.get(url + "?refresh=1", HTTP_HX_REQUEST="true")
    assert "Applied" in done.content.decode()
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"  # the detail page reloads to show the final report
    assert "HX-Refresh" not in client.get(url, HTTP_HX_REQUEST="true")  # list rows just swap
