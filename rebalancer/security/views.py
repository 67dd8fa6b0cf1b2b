"""Pages to enrol an authenticator app, verify a login with it, and see recovery codes once."""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_otp import login as otp_login

from rebalancer.middleware import SESSION_ENROLLED_KEY
from rebalancer.security.twofactor import (
    totp_begin,
    totp_confirm,
    twofactor_enrolled,
    twofactor_required,
    twofactor_verify,
)


class TokenForm(forms.Form):
    token = forms.CharField(
        max_length=16,
        label="Code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


class TwoFactorSetupView(LoginRequiredMixin, View):
    """Enrol (or replace) an authenticator app; on success show the recovery codes once."""

    template_name = "security/twofactor_setup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, TokenForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenForm(request.POST)
        codes = totp_confirm(user=request.user, token=form.data.get("token", ""))
        if codes is None:
            form.is_valid()
            form.add_error("token", "That code is not right; check the app's clock and try again.")
            return self._render(request, form, status=400)
        device = request.user.totpdevice_set.get(confirmed=True)  # type: ignore[union-attr]
        otp_login(request, device)
        request.session[SESSION_ENROLLED_KEY] = True
        return render(
            request, "security/twofactor_codes.html", {"codes": codes, "next": _next(request)}
        )

    def _render(self, request: HttpRequest, form: TokenForm, status: int = 200) -> HttpResponse:
        device = totp_begin(user=request.user)
        qr = segno.make(device.config_url, error="m")
        context = {
            "form": form,
            "secret": device.config_url.split("secret=")[1].split("&")[0],
            "qr_svg": qr.svg_inline(scale=4),
            "required": twofactor_required(request.user),
            "enrolled": twofactor_enrolled(request.user),
            "next": _next(request),
        }
        return render(request, self.template_name, context, status=status)


class TwoFactorVerifyView(LoginRequiredMixin, View):
    """The second step of a login: a code from the app, or one recovery code."""

    template_name = "security/twofactor_verify.html"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        context = {
            "form": TokenForm(),
            "next": _next(request),
            "enrolled": twofactor_enrolled(request.user),
        }
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = TokenForm(request.POST)
        device = twofactor_verify(user=request.user, token=form.data.get("token", ""))
        if device is None:
            form.is_valid()
            form.add_error("token", "That code is not right (or was already used).")
            context: dict[str, Any] = {"form": form, "next": _next(request), "enrolled": True}
            return render(request, self.template_name, context, status=400)
        otp_login(request, device)
        return redirect(_next(request))
