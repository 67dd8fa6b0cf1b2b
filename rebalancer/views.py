"""Tenancy-core pages: members, audit log, API token, passwords.

Every page goes through :class:`~rebalancer.mixins.FirmScopedMixin`; list pages return their
``partials/_*.html`` table when the request comes from htmx (search and paging swap the table).
The role home pages live with what they show, in :mod:`workflow.dashboards`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.models import User
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import FormView, ListView

from rebalancer import services
from rebalancer.filters import AuditEventFilterSet, MembershipFilterSet
from rebalancer.forms import DeactivateForm, InviteForm, RoleForm
from rebalancer.mixins import FirmScopedMixin
from rebalancer.models import AuditEvent, Membership
from rebalancer.roles import Action, Resource, Role
from rebalancer.selectors import audit_action_list, audit_event_list, member_list
from rebalancer.web import FilteredListMixin, HtmxPartialMixin, add_service_errors

# --- Members -------------------------------------------------------------------------------


class MemberListView(
    FilteredListMixin,
    FirmScopedMixin,
    HtmxPartialMixin,
    ListView,  # type: ignore[type-arg]
):
    tenancy_resource = Resource.MEMBERSHIP
    template_name = "members/member_list.html"
    partial_template_name = "members/partials/_member_table.html"
    filterset_class = MembershipFilterSet

    def get_base_queryset(self) -> Any:
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


class AuditLogView(
    FilteredListMixin,
    FirmScopedMixin,
    HtmxPartialMixin,
    ListView,  # type: ignore[type-arg]
):
    tenancy_resource = Resource.AUDIT
    model = AuditEvent
    template_name = "audit/audit_log.html"
    partial_template_name = "audit/partials/_audit_table.html"
    filterset_class = AuditEventFilterSet

    def get_base_queryset(self) -> Any:
        return audit_event_list(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["actions"] = audit_action_list(user=self.request.user)
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
