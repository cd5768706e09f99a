"""Forms of the portal's members page. They validate; services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .choices import Role
from .models import Invitation, Membership, Tenant, User
from .selectors import invitations_standing
from .services import invitation_send


class MemberAddForm(forms.Form):
    """Invite someone to the tenant by exact username; with an initial password, an account is created for a
    newcomer whose name is free. Its answers never depend on whether the name is an account: the checks below
    read only what was typed and the tenant's own members and invitations, and the service records the same
    invitation either way (accounts.services.invitation_send)."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Their exact username. They join once they accept the invitation in their portal."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)
    email = forms.EmailField(label=_("Email"), required=False, max_length=254, help_text=_("New accounts only."))
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Only for someone who has no account yet: if no one has this username, an account is created with "
            "this password. Leave empty to invite an existing account."
        ),
    )
    password_confirm = forms.CharField(
        label=_("Confirm password"),
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        field = User._meta.get_field(User.USERNAME_FIELD)
        try:
            field.run_validators(username)  # type: ignore[union-attr]
        except ValidationError as error:
            raise ValidationError(error.messages) from error
        if Membership.objects.filter(tenant=self.tenant, user__username=username).exists():
            raise ValidationError(_("%(username)s is already a member of this tenant.") % {"username": username})
        if invitations_standing(tenant=self.tenant).filter(username=username).exists():
            raise ValidationError(
                _("%(username)s already has an invitation from this tenant: withdraw it first to send another.")
                % {"username": username}
            )
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password") or ""
        if not password or "username" not in cleaned:
            return cleaned
        if password != cleaned.get("password_confirm"):
            self.add_error("password_confirm", _("The two passwords differ."))
            return cleaned
        # Judged against what was typed only, never against an account that may have this name.
        candidate = User(username=cleaned["username"], email=cleaned.get("email") or "")
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as error:
            self.add_error("password", error)
        return cleaned

    def save(self, *, actor: User, request: HttpRequest | None = None) -> Invitation:
        return invitation_send(
            tenant=self.tenant,
            username=self.cleaned_data["username"],
            role=self.cleaned_data["role"],
            actor=actor,
            password=self.cleaned_data.get("password") or "",
            email=self.cleaned_data.get("email") or "",
            request=request,
        )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
