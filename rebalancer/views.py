"""Tenancy-core pages: the home page per role, members, audit log, API token, passwords.

Every page goes through :class:`~rebalancer.mixins.FirmScopedMixin`; list pages return their
``partials/_*.html`` table when the request comes from htmx (search and paging swap the table).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.models import User
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from accounts.selectors import (
    account_holdings,
    accounts_by_registration,
    book_summary,
    household_list,
    largest_account_id,
    valued_page,
)
from models_hub.selectors import market_data_summary
from rebalancer import services
from rebalancer.forms import DeactivateForm, InviteForm, RoleForm
from rebalancer.mixins import FirmScopedMixin
from rebalancer.models import AuditEvent, Membership
from rebalancer.roles import Action, Resource, Role
from rebalancer.selectors import (
    audit_action_names,
    audit_event_list,
    member_counts,
    member_list,
    recent_imports,
)
from rebalancer.tenancy import AnyUser

PAGE_SIZE = 50


def add_service_errors(form: Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in sorted(exc.message_dict.items()):
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class HtmxPartialMixin:
    """Render ``partial_template_name`` instead of the page when htmx asks."""

    partial_template_name: str = ""
    template_name: str
    request: HttpRequest

    def get_template_names(self) -> list[str]:
        if self.partial_template_name and getattr(self.request, "htmx", False):
            return [self.partial_template_name]
        return [self.template_name]


class SearchMixin:
    """A list page searched by the ``q`` query parameter; the term goes back to the template."""

    request: HttpRequest

    @property
    def search(self) -> str:
        return self.request.GET.get("q", "")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["q"] = self.search
        return context


# --- Home per role -------------------------------------------------------------------------


def _largest_account_holdings(user: AnyUser, as_of: dt.date | None) -> Any:
    largest = largest_account_id(user=user, as_of=as_of)
    if largest is None:
        return None
    return account_holdings(user=user, account_id=largest, as_of=as_of)


def _first_households(user: AnyUser, n: int = 10) -> list[Any]:
    households = household_list(user=user)
    return valued_page(households, list(households.values_list("pk", flat=True)[:n]), user=user)


def _home_advisor(user: AnyUser) -> dict[str, Any]:
    book = book_summary(user=user)
    holdings = _largest_account_holdings(user, book.prices_as_of)
    return {
        "book": book,
        "households": _first_households(user),
        "holdings": holdings,
        "has_synthetic": holdings is not None and holdings.has_synthetic,
    }


def _home_investment(user: AnyUser) -> dict[str, Any]:
    market = market_data_summary(user=user)
    return {
        "book": book_summary(user=user),
        "market": market,
        "has_synthetic": market.synthetic_securities > 0,
        "registrations": accounts_by_registration(user=user),
    }


def _home_overlay(user: AnyUser) -> dict[str, Any]:
    return {
        "book": book_summary(user=user),
        "registrations": accounts_by_registration(user=user),
        "households": _first_households(user),
    }


def _home_compliance(user: AnyUser) -> dict[str, Any]:
    return {
        "book": book_summary(user=user),
        "events": list(audit_event_list(user=user)[:10]),
        "imports": recent_imports(user=user),
    }


def _home_management(user: AnyUser) -> dict[str, Any]:
    return {
        "book": book_summary(user=user),
        "registrations": accounts_by_registration(user=user),
        "members": member_counts(user=user),
        "events": list(audit_event_list(user=user)[:10]),
    }


def _home_data_manager(user: AnyUser) -> dict[str, Any]:
    market = market_data_summary(user=user)
    return {
        "book": book_summary(user=user),
        "market": market,
        "has_synthetic": market.synthetic_securities > 0,
        "imports": recent_imports(user=user, limit=10),
    }


def _home_firm_admin(user: AnyUser) -> dict[str, Any]:
    return {
        "book": book_summary(user=user),
        "members": member_counts(user=user),
        "events": list(audit_event_list(user=user)[:10]),
        "imports": recent_imports(user=user),
    }


HOME_FIGURES: dict[Role, Callable[[AnyUser], dict[str, Any]]] = {
    Role.ADVISOR: _home_advisor,
    Role.IPC: _home_investment,
    Role.OVERLAY_MANAGER: _home_overlay,
    Role.COMPLIANCE: _home_compliance,
    Role.MANAGEMENT: _home_management,
    Role.DATA_MANAGER: _home_data_manager,
    Role.FIRM_ADMIN: _home_firm_admin,
}


class HomeView(FirmScopedMixin, TemplateView):
    """Each role's landing page, with real figures from the data it may see."""

    def handle_no_membership(self) -> HttpResponseBase:
        if self.request.user.is_staff:  # the platform operator works in the admin
            return redirect("admin:index")
        raise PermissionDenied("Your user has no membership of an active firm.")

    def get_template_names(self) -> list[str]:
        return [f"home/{self.membership.role}.html"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(HOME_FIGURES[Role(self.membership.role)](self.request.user))
        return context


# --- Members -------------------------------------------------------------------------------


class MemberListView(FirmScopedMixin, HtmxPartialMixin, ListView):  # type: ignore[type-arg]
    tenancy_resource = Resource.MEMBERSHIP
    template_name = "members/member_list.html"
    partial_template_name = "members/partials/_member_table.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> Any:
        return member_list(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["can_change"] = self.role_can(Resource.MEMBERSHIP, Action.CHANGE)
        context["roles"] = Role.choices
        return context


class MemberInviteView(FirmScopedMixin, FormView):  # type: ignore[type-arg]
    """Invite a user: on success the page shows the one-time set-password link, once."""

    tenancy_resource = Resource.MEMBERSHIP
    tenancy_action = Action.CHANGE
    template_name = "members/member_invite.html"
    form_class = InviteForm

    def form_valid(self, form: InviteForm) -> HttpResponse:
        user: Any = self.request.user
        try:
            invitation = services.membership_invite(
                firm=self.membership.firm, actor=user, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        link = self.request.build_absolute_uri(invitation.set_password_path)
        return render(
            self.request,
            "members/member_invite_done.html",
            {"invited": invitation.membership, "link": link},
        )


class MemberActionView(FirmScopedMixin, View):
    """POST-only change of one member; htmx gets the table row back, others a redirect."""

    tenancy_resource = Resource.MEMBERSHIP
    tenancy_action = Action.CHANGE
    model = Membership
    http_method_names = ["post"]
    form_class: type[Form]
    done_message: str

    def perform(self, membership: Membership, form: Any) -> None:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = get_object_or_404(self.get_queryset().select_related("user", "firm"), pk=pk)
        form = self.form_class(request.POST)
        error = ""
        if form.is_valid():
            try:
                self.perform(membership, form)
            except ValidationError as exc:
                error = " ".join(exc.messages)
        else:
            error = " ".join(
                f"{field}: {' '.join(str(e) for e in errs)}" for field, errs in form.errors.items()
            )
        if getattr(request, "htmx", False):
            membership.refresh_from_db()
            membership.user.refresh_from_db()
            return render(
                request,
                "members/partials/_member_row.html",
                {
                    "m": membership,
                    "can_change": True,
                    "roles": Role.choices,
                    "row_error": error,
                    "row_message": "" if error else self.done_message,
                },
            )
        if error:
            messages.error(request, f"{membership.user.get_username()}: {error}")
        else:
            messages.success(request, f"{membership.user.get_username()}: {self.done_message}")
        return redirect("member_list")


class MemberSetRoleView(MemberActionView):
    form_class = RoleForm
    done_message = "role changed."

    def perform(self, membership: Membership, form: Any) -> None:
        actor: Any = self.request.user
        services.membership_set_role(membership=membership, actor=actor, **form.cleaned_data)


class MemberDeactivateView(MemberActionView):
    form_class = DeactivateForm
    done_message = "deactivated."

    def perform(self, membership: Membership, form: Any) -> None:
        actor: Any = self.request.user
        services.membership_deactivate(membership=membership, actor=actor, **form.cleaned_data)


# --- Audit log -----------------------------------------------------------------------------


class AuditLogView(FirmScopedMixin, HtmxPartialMixin, ListView):  # type: ignore[type-arg]
    tenancy_resource = Resource.AUDIT
    model = AuditEvent
    template_name = "audit/audit_log.html"
    partial_template_name = "audit/partials/_audit_table.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> Any:
        params = self.request.GET
        return audit_event_list(
            user=self.request.user,
            action=params.get("action", "").strip(),
            actor=params.get("actor", "").strip(),
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["actions"] = audit_action_names(user=self.request.user)
        context["selected_action"] = self.request.GET.get("action", "")
        context["selected_actor"] = self.request.GET.get("actor", "")
        return context


# --- API token -----------------------------------------------------------------------------


# --- Passwords -----------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, writing through :func:`services.password_change` (audited)."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        user: User = form.user
        services.password_change(user=user, new_password=form.cleaned_data["new_password1"])
        update_session_auth_hash(self.request, user)
        return HttpResponseRedirect(self.get_success_url())


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """An invited user's one-time link (a Django password-reset token): choose a password."""

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        # A member deactivated before using the link must not be able to set a password.
        return user if user is not None and user.is_active else None

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:  # type: ignore[type-arg]
        user: User = form.user
        services.password_set_from_invitation(
            user=user, new_password=form.cleaned_data["new_password1"]
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(reverse("password_reset_complete"))
