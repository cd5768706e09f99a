"""Forms of the portal's members page. They validate; services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .choices import Role
from .models import Membership, Tenant, User
from .selectors import invitations_standing


def _checked_username(value: Any) -> str:
    """A username as the account's column takes it (its validators), or ValidationError."""
    username = str(value).strip()
    field = User._meta.get_field(User.USERNAME_FIELD)
    try:
        field.run_validators(username)  # type: ignore[union-attr]
    except ValidationError as error:
        raise ValidationError(error.messages) from error
    return username


class MemberAddForm(forms.Form):
    """Invite an existing account to the tenant by exact username. Its answers never depend on whether the name is
    an account: the checks below read only what was typed and the tenant's own members and invitations, and the
    service records the same invitation either way (accounts.services.invitation_send). Someone without an account
    joins by a join link instead (`JoinLinkForm`), choosing their own name."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Their exact username. They join once they accept the invitation in their portal."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)

    def clean_username(self) -> str:
        username = _checked_username(self.cleaned_data["username"])
        if Membership.objects.filter(tenant=self.tenant, user__username=username).exists():
            raise ValidationError(_("%(username)s is already a member of this tenant.") % {"username": username})
        if invitations_standing(tenant=self.tenant).filter(username=username).exists():
            raise ValidationError(
                _("%(username)s already has an invitation from this tenant: withdraw it first to send another.")
                % {"username": username}
            )
        return username


class JoinLinkForm(forms.Form):
    """A join link for someone without an account (accounts.services.invitation_link_create)."""

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)


class JoinForm(forms.Form):
    """The account someone creates by a join link: the name and password are theirs, never the admin's."""

    username = forms.CharField(
        label=_("Username"), max_length=150, help_text=_("What you will sign in with; letters, digits and @.+-_ only.")
    )
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("Confirm password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_username(self) -> str:
        username = _checked_username(self.cleaned_data["username"])
        if User.objects.filter(username=username).exists():
            raise ValidationError(_("This username is taken: choose another."), code="taken")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password") or ""
        if not password:
            return cleaned
        if password != cleaned.get("password_confirm"):
            self.add_error("password_confirm", _("The two passwords differ."))
            return cleaned
        candidate = User(username=cleaned.get("username") or "", email=cleaned.get("email") or "")
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as error:
            self.add_error("password", error)
        return cleaned


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
