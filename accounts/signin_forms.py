"""Sign-in forms of the portal: the password step and the one-time code step."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .backends import SUSPENDED_FLAG


class PortalAuthenticationForm(AuthenticationForm):
    """Django's login form; a suspended user who typed the right password is told so (nobody else is: a wrong
    password gets the usual message whatever the account's state)."""

    # As long as the token endpoint takes (accounts/jwt.py): nothing longer is anyone's password.
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "suspended": _("This account is suspended. Ask an admin of your desk to reactivate it."),
    }

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError as error:
            if getattr(self.request, SUSPENDED_FLAG, False):
                raise ValidationError(self.error_messages["suspended"], code="suspended") from error
            raise


class OneTimeCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=10,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data["code"]).split())
        if not code.isdigit():
            raise ValidationError(_("Enter the digits your app shows."), code="digits")
        return code
