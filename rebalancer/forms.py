"""Forms of the members pages. They only parse input; the services validate the rules."""

from __future__ import annotations

from django import forms

from rebalancer.roles import Role

REASON_HELP = "Kept in the audit log."


class InviteForm(forms.Form):
    username = forms.CharField(
        max_length=100, help_text="They log in as this name followed by @ and the firm's slug."
    )
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)
    reason = forms.CharField(max_length=500, help_text=REASON_HELP)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    reason = forms.CharField(max_length=500, help_text=REASON_HELP)


class DeactivateForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text=REASON_HELP)
