"""Forms around members, shared by the portal's members page and the admin. They validate; services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .choices import Role
from .models import Membership, Tenant, User
from .services import membership_set, user_create


class MemberAddForm(forms.Form):
    """Add someone to a tenant: an existing user by exact username, or a new user with an initial password."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("An existing user's exact username, or a new one (then set an initial password)."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)
    email = forms.EmailField(label=_("Email"), required=False, help_text=_("New users only."))
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("New users only. They should change it after their first login."),
    )
    password_confirm = forms.CharField(
        label=_("Confirm password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        self.existing_user: User | None = None
        super().__init__(*args, **kwargs)

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        field = User._meta.get_field(User.USERNAME_FIELD)
        try:
            field.run_validators(username)  # type: ignore[union-attr]
        except ValidationError as error:
            raise ValidationError(error.messages) from error
        self.existing_user = User.objects.filter(username=username).first()
        if (
            self.existing_user is not None
            and Membership.objects.filter(user=self.existing_user, tenant=self.tenant).exists()
        ):
            raise ValidationError(_("%(username)s is already a member of this tenant.") % {"username": username})
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.existing_user is not None or "username" not in cleaned:
            return cleaned
        password = cleaned.get("password") or ""
        if not password:
            self.add_error("password", _("No user has this username: set an initial password to create one."))
            return cleaned
        if password != cleaned.get("password_confirm"):
            self.add_error("password_confirm", _("The two passwords differ."))
            return cleaned
        candidate = User(username=cleaned["username"], email=cleaned.get("email") or "")
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as error:
            self.add_error("password", error)
        return cleaned

    @transaction.atomic
    def save(self, *, actor: User | None, request: HttpRequest | None = None) -> Membership:
        user = self.existing_user
        if user is None:
            user = user_create(
                username=self.cleaned_data["username"],
                password=self.cleaned_data["password"],
                tenant=self.tenant,
                actor=actor,
                request=request,
            )
            email = self.cleaned_data.get("email") or ""
            if email:
                user.email = email
                user.save(update_fields=["email"])
        return membership_set(
            user=user, tenant=self.tenant, role=self.cleaned_data["role"], actor=actor, request=request
        )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
