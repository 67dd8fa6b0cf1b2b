"""Django admin for the platform operator: firms (through the services) and a read-only audit log.

Firm members are managed by each firm's admins on the members page, not here; the operator only
invites a new firm's first admin, from the firm's add form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from rebalancer import services
from rebalancer.models import AuditEvent, Firm
from rebalancer.roles import Role


class FirmAddForm(forms.ModelForm):  # type: ignore[type-arg]
    admin_username = forms.CharField(
        max_length=150, required=False, help_text="Optional: invite the firm's first firm admin."
    )
    admin_email = forms.EmailField(required=False)

    class Meta:
        model = Firm
        fields = ["name", "slug"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        username = cleaned.get("admin_username")
        if username and not cleaned.get("admin_email"):
            self.add_error("admin_email", "Give the first admin's email address.")
        if username and User.objects.filter(username=username).exists():
            self.add_error("admin_username", f"The username {username!r} is taken.")
        return cleaned


class FirmChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    reason = forms.CharField(max_length=500, help_text="Kept in the firm's audit log.")

    class Meta:
        model = Firm
        fields = ["name", "is_active"]


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "created_at"]

    def get_form(
        self, request: HttpRequest, obj: Firm | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = FirmChangeForm if obj is not None else FirmAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Firm | None = None) -> Any:
        if obj is None:
            return ["name", "slug", "admin_username", "admin_email"]
        return ["name", "slug", "is_active", "reason", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Firm | None = None) -> Any:
        return ["slug", "created_at"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Firm | None = None) -> bool:
        return False  # firms own audit history; deactivate instead

    def save_model(self, request: HttpRequest, obj: Firm, form: Any, change: bool) -> None:
        operator: Any = request.user
        data = form.cleaned_data
        try:
            if not change:
                firm = services.firm_create(operator=operator, name=obj.name, slug=obj.slug)
                obj.pk = firm.pk
                obj.created_at = firm.created_at
                if data.get("admin_username"):
                    invitation = services.membership_invite(
                        firm=firm,
                        actor=operator,
                        username=data["admin_username"],
                        email=data["admin_email"],
                        role=Role.FIRM_ADMIN,
                        reason="First firm admin, invited by the platform operator.",
                    )
                    link = request.build_absolute_uri(invitation.set_password_path)
                    messages.success(
                        request,
                        f"Send {data['admin_username']} this one-time link to set a password "
                        f"(shown once): {link}",
                    )
            else:
                current = Firm.objects.get(pk=obj.pk)
                services.firm_update(
                    operator=operator,
                    firm=current,
                    name=obj.name,
                    is_active=obj.is_active,
                    reason=data["reason"],
                )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Append-only: viewable, never added, changed or deleted through the admin."""

    list_display = ["occurred_at", "firm", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["firm", "action"]
    search_fields = ["actor_label", "action", "object_repr", "reason"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return super().get_queryset(request).select_related("firm")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
