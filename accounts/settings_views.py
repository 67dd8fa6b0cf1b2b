"""Customization pages: an account's menus (with the inherited value and its source beside each
choice, the effective target below), and a household's settings with its accounts side by side.

Reads go through ``for_user`` and :func:`accounts.resolve.resolve_accounts`; the one write is
:func:`accounts.customization.settings_save` (limits, audit, version check). Advisors never see
optimizer knobs: they are shown to the other roles only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.generic import TemplateView

from accounts.customization import (
    Owner,
    SettingsConflict,
    SettingsError,
    current_version,
    owner_of,
)
from accounts.customization import settings_save as _settings_save
from accounts.models import Account, Household
from accounts.resolve import ResolvedAccount, ResolvedSetting, resolve_accounts, resolve_proposed
from accounts.selectors import account_list
from accounts.settings_form import (
    CHOICES,
    content_raw,
    menu_form_parse,
    menu_rows,
    screen_options,
    setting_text,
    strategy_options,
    tilt_paths_of,
)
from models_hub.content import canonical_json
from models_hub.menus import DEFAULTS
from models_hub.program_selectors import version_store_load
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Action, Resource, Role
from rebalancer.web import RefuseNulMixin


class SettingsPage(FirmScopedMixin, RefuseNulMixin, TemplateView):
    """Shared by the account and household pages: the menu form of one settings owner."""

    tenancy_resource = Resource.ACCOUNT_SETTINGS
    tenancy_write_action = Action.CHANGE

    def owner(self) -> Owner:
        raise NotImplementedError

    def sample_account_id(self, owner: Owner) -> int | None:
        raise NotImplementedError

    def strategy_id(self, owner: Owner) -> int | None:
        return None

    def form_context(
        self,
        owner: Owner,
        *,
        raw: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        current = current_version(owner)
        store = version_store_load(owner.firm_id)
        if raw is None:
            raw = content_raw(current.content if current else {})
        inherited: Any = builtin_settings()
        sample = self.sample_account_id(owner)
        if sample is not None:
            # What the account would have without this level's own choices: the inherited
            # value and its source beside each input.
            empty: dict[tuple[str, int], dict[str, Any]] = {owner.key: {}}
            if owner.account is None:
                empty[("account", sample)] = {}
            inherited = resolve_proposed(owner.firm_id, [sample], empty)[sample].settings
        tilt_paths = tilt_paths_of(store, self.strategy_id(owner))
        rows, loose = menu_rows(
            scope=owner.scope,
            raw=raw,
            inherited=inherited,
            errors=errors or {},
            tilt_paths=tilt_paths,
            strategies=strategy_options(store),
            screens=screen_options(store),
        )
        return {
            "rows": rows,
            "loose_errors": loose,
            "expected_version": current.number if current else 0,
            "current": current,
            "can_edit": self.role_can(Resource.ACCOUNT_SETTINGS, Action.CHANGE),
            "show_knobs": self.membership.role != Role.ADVISOR,
        }

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        owner = self.owner()
        store = version_store_load(owner.firm_id)
        tilt_paths = tilt_paths_of(store, self.strategy_id(owner))
        content, errors, raw = menu_form_parse(
            request.POST, scope=owner.scope, tilt_paths=tilt_paths
        )
        expected = request.POST.get("expected_version", "")
        reason = request.POST.get("reason", "")
        conflict = ""
        if not (expected.isascii() and expected.isdigit() and len(expected) < 10):
            errors[""] = "reload the page: the version it started from is missing"
        if not errors:
            try:
                _settings_save(
                    actor=request.user,  # type: ignore[arg-type]
                    owner=owner,
                    content=content,
                    expected_version=int(expected),
                    reason=reason,
                )
            except SettingsConflict as exc:
                conflict = str(exc)
            except SettingsError as exc:
                errors = exc.errors
            else:
                messages.success(request, "Settings saved.")
                return HttpResponseRedirect(request.path)
        context = self.get_context_data(**kwargs)
        context.update(self.form_context(owner, raw=raw, errors=errors))
        context.update(conflict=conflict, reason=reason)
        if conflict:
            context["expected_version"] = int(expected)
        return render(request, self.get_template_names(), context, status=409 if conflict else 400)


def builtin_settings() -> list[ResolvedSetting]:
    """The bottom layer: every choice's built-in default."""
    return [
        ResolvedSetting(name, canonical_json(value), "built-in default")
        for name, value in sorted(DEFAULTS.items())
    ]


class FirmSettingsView(SettingsPage):
    """``/models/defaults/``: the firm's default choices (the IPC's; everyone may read), the
    layer under every strategy, household and account, and the firm's cost schedules."""

    tenancy_resource = Resource.MODEL
    template_name = "accounts/settings/firm_settings.html"

    def owner(self) -> Owner:
        return owner_of(firm_id=self.membership.firm_id)

    def sample_account_id(self, owner: Owner) -> int | None:
        return None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.request.method == "GET":
            context.update(self.form_context(self.owner()))
        context["can_edit"] = self.role_can(Resource.MODEL, Action.CHANGE)
        return context

    def form_context(self, owner: Owner, **kwargs: Any) -> dict[str, Any]:
        context = super().form_context(owner, **kwargs)
        context["can_edit"] = self.role_can(Resource.MODEL, Action.CHANGE)
        return context


class AccountSettingsView(SettingsPage):
    """``/accounts/<id>/settings/``: the account's menus, effective target and (not for
    advisors) the optimizer knobs."""

    template_name = "accounts/settings/account_settings.html"

    def account(self) -> Account:
        account = (
            Account.objects.for_user(self.request.user)
            .select_related("household", "settings_version", "advisor")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if account is None:
            raise Http404("No such account.")
        return account

    def owner(self) -> Owner:
        account = self.account()
        return owner_of(firm_id=account.firm_id, account=account)

    def sample_account_id(self, owner: Owner) -> int | None:
        assert owner.account is not None
        return owner.account.pk

    def strategy_id(self, owner: Owner) -> int | None:
        assert owner.account is not None
        version = owner.account.settings_version
        return version.strategy_id if version is not None else None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        owner = self.owner()
        account = owner.account
        assert account is not None
        resolved: ResolvedAccount = resolve_accounts(account.firm_id, [account.pk])[account.pk]
        context.update(account=account, resolved=resolved, cash_pct=resolved.cash_target)
        if self.request.method == "GET":
            context.update(self.form_context(owner))
        return context


class HouseholdSettingsView(SettingsPage):
    """``/households/<id>/settings/``: the household's own choices, and each account's
    resolved settings side by side (one column per account, value and source)."""

    template_name = "accounts/settings/household_settings.html"

    def household(self) -> Household:
        household = (
            Household.objects.for_user(self.request.user)
            .select_related("settings_version")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if household is None:
            raise Http404("No such household.")
        return household

    def owner(self) -> Owner:
        household = self.household()
        return owner_of(firm_id=household.firm_id, household=household)

    def sample_account_id(self, owner: Owner) -> int | None:
        return self._accounts[0].pk if self._accounts else None

    @property
    def _accounts(self) -> list[Account]:
        if not hasattr(self, "_account_rows"):
            self._account_rows = list(
                account_list(user=self.request.user, household_id=self.kwargs["pk"])
            )
        return self._account_rows

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        owner = self.owner()
        household = owner.household
        assert household is not None
        accounts = self._accounts
        resolved = resolve_accounts(household.firm_id, [a.pk for a in accounts])
        table = []
        for name in ("strategy", *CHOICES[1:]):
            cells = []
            for a in accounts:
                r = resolved[a.pk]
                if name == "strategy":
                    cells.append((r.strategy or "—", "account" if r.strategy_id else ""))
                    continue
                s = r.setting(name)
                cells.append((setting_text(s.value), s.source))
            table.append((name, cells))
        context.update(household=household, accounts=accounts, table=table)
        if self.request.method == "GET":
            context.update(self.form_context(owner))
        return context
