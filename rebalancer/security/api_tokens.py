"""The API token page: create a named token with an expiry (its key shown once), revoke one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views import View

from rebalancer.mixins import FirmScopedMixin
from rebalancer.tokens import (
    LIFETIME_DAYS,
    ApiToken,
    api_token_create,
    api_token_list,
    api_token_revoke,
)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'reporting script'.")
    days = forms.TypedChoiceField(
        coerce=int,
        choices=[(d, f"{d} days") for d in LIFETIME_DAYS],
        initial=90,
        label="Expires after",
    )


class ApiTokenView(FirmScopedMixin, View):
    """Your tokens (name, prefix, created, expires, last used) and a form to create one."""

    template_name = "registration/api_token.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ApiTokenForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiTokenForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        user: Any = request.user
        try:
            token, key = api_token_create(user=user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self._render(request, form, status=400)
        return self._render(request, ApiTokenForm(), new_token=token, new_key=key)

    def _render(
        self, request: HttpRequest, form: ApiTokenForm, status: int = 200, **extra: Any
    ) -> HttpResponse:
        context = {"form": form, "tokens": api_token_list(user=request.user), **extra}
        return render(request, self.template_name, context, status=status)


class ApiTokenRevokeView(FirmScopedMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        user: Any = request.user
        try:
            token = api_token_revoke(user=user, token_id=pk)
        except ApiToken.DoesNotExist:
            raise Http404("No such active token.") from None
        messages.success(request, f"Token {token.name} ({token.prefix}…) was revoked.")
        return redirect("api_token")
