from decimal import Decimal
from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import AccountMode, AccountStatus, AuditAction, InvitationStatus, MarginType, Role, Theme, UserStatus
from .crypto import EncryptedJSONField
from .scoping import GrantableQuerySet, TenantQuerySet


class User(AbstractUser):
    """A person. What they may see and do is decided by their memberships, one per tenant."""

    status = models.CharField(_("status"), max_length=16, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, help_text=_("Empty: follow the browser.")
    )
    theme = models.CharField(_("theme"), max_length=8, choices=Theme.choices, default=Theme.DARK)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_suspended(self) -> bool:
        return self.status == UserStatus.SUSPENDED


class Tenant(models.Model):
    """A desk. Every tenant-owned row carries its tenant; nothing crosses tenants."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    require_admin_two_factor = models.BooleanField(
        _("require two-factor sign-in for admins"),
        default=False,
        help_text=_("Admins of this desk must confirm each sign-in with a code from an authenticator app."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")]
        ordering = ["tenant__name"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"


class Invitation(models.Model):
    """A desk's invitation for a username to join it with a role; the user becomes a member only by accepting it.

    The desk must not learn whether a name is an account: `username` is kept as its admin typed
    it and is all the desk is shown, with the role, who sent it and until when it stands. `user` is the account
    that had the name when it was sent — None when none had it, and then nobody ever sees the invitation. A
    decline is the invitee's business: to the desk the invitation simply stands until it lapses, exactly like one
    sent to a name that is no account.

    A join link (`link_digest` set, `username` empty until used) is how someone without an account joins: whoever
    opens the link picks their own username and password, and the account is created as they join. A desk admin
    never names an account they create, nor knows its password, so no name they type can be tried and told to be
    free or taken (with an initial password the admin chose, signing in with it told exactly that).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("tenant"))
    username = models.CharField(_("username"), max_length=150, blank=True)
    # SHA-256 of the join link's secret (the link itself is shown once, to the admin who made it); empty for an
    # invitation by username.
    link_digest = models.CharField(_("join link digest"), max_length=64, blank=True, default="", editable=False)
    # Taken names its holder tried (a join link lapses after JOIN_LINK_TAKEN_NAMES: no probing the user list with it).
    taken_names_tried = models.PositiveSmallIntegerField(_("taken names tried"), default=0, editable=False)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("invited by")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    created_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("lapses"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    # What "still stands" means to the desk: neither accepted nor withdrawn (a decline looks like silence).
    STANDING_FOR_TENANT = (InvitationStatus.PENDING, InvitationStatus.DECLINED)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One standing invitation per name and desk; lapsed ones are marked so before a new one is sent.
            models.UniqueConstraint(
                fields=["tenant", "username"],
                condition=models.Q(status__in=["pending", "declined"]) & ~models.Q(username=""),
                name="invitation_one_standing_per_name",
            ),
            models.UniqueConstraint(
                fields=["link_digest"], condition=~models.Q(link_digest=""), name="invitation_link_unique"
            ),
        ]
        indexes = [models.Index(fields=["user", "status"], name="invitation_user_status")]

    def __str__(self) -> str:
        return f"{self.username or '(join link)'} → {self.tenant} ({self.get_role_display()})"

    @property
    def is_link(self) -> bool:
        return bool(self.link_digest)


class AuditEvent(models.Model):
    """One row of the append-only, per-tenant hash-chained audit trail. Written only by `accounts.audit.audit_record`.

    Nothing here cascades: the actor and the object are plain values and the tenant is a reference without a
    database constraint, so deleting a user, a tracked object or a tenant leaves its history intact. Rows
    without a tenant form the platform's own chain (events of no desk, such as a failed login for an unknown
    username).
    PostgreSQL rejects UPDATE, DELETE and TRUNCATE on this table (migration 0003).
    """

    # No database constraint and DO_NOTHING: a tenant can be deleted (offboarding a desk) while its chain stays,
    # still verifiable by tenant id.
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tenant"),
    )
    seq = models.PositiveBigIntegerField(_("sequence"), help_text=_("Position in the tenant's chain, from 1."))
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    correlation_id = models.CharField(_("correlation id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["tenant_id", "seq"]
        constraints = [
            # Two chains can never share a position: a forked chain fails here even if serialisation did not hold.
            models.UniqueConstraint(
                fields=["tenant", "seq"], condition=models.Q(tenant__isnull=False), name="auditevent_unique_tenant_seq"
            ),
            models.UniqueConstraint(
                fields=["seq"], condition=models.Q(tenant__isnull=True), name="auditevent_unique_platform_seq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="auditevent_tenant_time"),
            models.Index(fields=["tenant", "action"], name="auditevent_tenant_action"),
            models.Index(fields=["object_type", "object_id"], name="auditevent_object"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_username or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")


class ChangeLogEntryManager(LogEntryManager.from_queryset(TenantQuerySet)):
    """django-auditlog's manager, stamping each entry with the tenant that owns the changed object; its querysets
    are `TenantQuerySet`s, so a member's list reads `ChangeLogEntry.objects.for_member(membership)`."""

    def log_create(self, instance: Any, force_log: bool = False, **kwargs: Any) -> Any:
        kwargs.setdefault("tenant_id", owning_tenant_id(instance))
        return super().log_create(instance, force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset: Any, instance: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("tenant_id", owning_tenant_id(instance))
        return super().log_m2m_changes(changed_queryset, instance, *args, **kwargs)


def owning_tenant_id(instance: Any) -> int | None:
    """The tenant a row belongs to: a tenant is its own; a tenant-owned row names it in `tenant_id`; anything
    else (users, reference data) belongs to the platform (None)."""
    if isinstance(instance, Tenant):
        return instance.pk
    tenant_id = getattr(instance, "tenant_id", None)
    return tenant_id if isinstance(tenant_id, int) else None


class ChangeLogEntry(AbstractLogEntry):
    """django-auditlog's change log (field-level before/after of tenant-owned models), with the owning tenant so
    compliance sees their desk's changes only. Append-only in PostgreSQL like `AuditEvent` (migration 0005).

    Nothing cascades into it: the actor, the content type and the tenant are references without database
    constraints, so deleting a user or a tracked object leaves every entry as it was.
    """

    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tenant"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("content type"),
    )
    # Chained per tenant like the audit trail (accounts/audit_seal.py): on PostgreSQL the database assigns these in
    # a trigger, keyed; on SQLite the application does.
    seq = models.PositiveBigIntegerField(_("sequence"), null=True, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True, default="")
    hash = models.CharField(_("hash"), max_length=64, blank=True, default="")

    objects = ChangeLogEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("change log entry")
        verbose_name_plural = _("change log")
        indexes = [models.Index(fields=["tenant", "timestamp"], name="changelog_tenant_time")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("change log entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("change log entries are append-only")


# --- venue accounts, credentials, pools ------------------------------------------------------------------------
class VenueAccount(models.Model):
    """One account at one venue, held by one operator of the tenant (an operator may hold many).

    `credentials` is encrypted at rest (accounts/crypto.py) and write-only: forms and the API accept it, nothing
    ever shows it; `credential_hints` keeps what may be shown (e.g. `••••3f9a` for an API key).
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="venue_accounts", verbose_name=_("tenant")
    )
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="venue_accounts", verbose_name=_("operator"))
    venue = models.CharField(_("venue"), max_length=64)
    label = models.CharField(_("label"), max_length=120)
    mode = models.CharField(_("mode"), max_length=8, choices=AccountMode.choices, default=AccountMode.PAPER)
    status = models.CharField(_("status"), max_length=12, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    last_error = models.TextField(_("last error"), blank=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_test_at = models.DateTimeField(_("last test"), null=True, blank=True)
    last_test_ok = models.BooleanField(_("last test passed"), null=True, blank=True)
    last_test_message = models.CharField(_("last test result"), max_length=500, blank=True)
    credentials = EncryptedJSONField(_("credentials"), null=True, blank=True, editable=False)
    credential_hints = models.JSONField(_("credential hints"), default=dict, blank=True, editable=False)
    # Endpoint override (Binance only): a proxy, a gateway or a test venue instead of Binance's own hosts. Not a
    # secret; set by admins (account.manage), tracked by the change log. Both or neither.
    rest_endpoint = models.CharField(
        _("REST endpoint override"),
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Binance only. Empty: Binance's own hosts. e.g. https://proxy.example:8443"),
    )
    ws_endpoint = models.CharField(
        _("WebSocket endpoint override"),
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["ws", "wss"])],
        help_text=_("Binance only, with the REST override. e.g. wss://proxy.example:8443"),
    )
    binance_testnet = models.BooleanField(
        _("Binance futures testnet"),
        default=False,
        help_text=_("Binance only: trade on Binance's futures testnet (testnet keys), not with real money."),
    )
    terminal = models.ForeignKey(
        "mt5ops.TerminalInstance",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
        verbose_name=_("MT5 terminal"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("venue account")
        verbose_name_plural = _("venue accounts")
        ordering = ["label"]
        constraints = [models.UniqueConstraint(fields=["tenant", "label"], name="venue_account_unique_label")]

    def __str__(self) -> str:
        return self.label

    @property
    def has_credentials(self) -> bool:
        return bool(self.credential_hints)


class AccountPool(models.Model):
    """A perpetual account paired with an MT5 (CFD) account, with the capital each leg may use.

    The hedge ratio is not stored: it is derived from the instruments' current specs whenever a size is computed
    (trading/instruments.py)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="pools", verbose_name=_("tenant"))
    name = models.CharField(_("name"), max_length=120)
    perp_account = models.ForeignKey(
        VenueAccount, on_delete=models.PROTECT, related_name="perp_pools", verbose_name=_("perpetual account")
    )
    cfd_account = models.ForeignKey(
        VenueAccount, on_delete=models.PROTECT, related_name="cfd_pools", verbose_name=_("CFD account")
    )
    perp_allocation = models.DecimalField(
        _("perpetual leg capital (USDT)"), max_digits=20, decimal_places=2, validators=[MinValueValidator(0)]
    )
    cfd_allocation = models.DecimalField(
        _("CFD leg capital (account currency)"), max_digits=20, decimal_places=2, validators=[MinValueValidator(0)]
    )
    perp_margin_type = models.CharField(
        _("perpetual margin type"),
        max_length=8,
        choices=MarginType.choices,
        default=MarginType.CROSS,
        help_text=_("What the perpetual account must be set to for XAUUSDT; the sync reports a mismatch."),
    )
    perp_leverage = models.PositiveSmallIntegerField(
        _("perpetual leverage"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(125)],
        help_text=_("The leverage the perpetual account must have set for XAUUSDT; the sync reports a mismatch."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = GrantableQuerySet.as_manager()

    class Meta:
        verbose_name = _("account pool")
        verbose_name_plural = _("account pools")
        ordering = ["name"]
        permissions = [("operate_accountpool", _("Can run strategies and orders on this pool"))]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="pool_unique_name"),
            # An account trades in at most one enabled pool (the forms say so first, with a message).
            models.UniqueConstraint(
                fields=["perp_account"], condition=models.Q(enabled=True), name="pool_one_enabled_per_perp_account"
            ),
            models.UniqueConstraint(
                fields=["cfd_account"], condition=models.Q(enabled=True), name="pool_one_enabled_per_cfd_account"
            ),
        ]

    def __str__(self) -> str:
        return self.name


CENT = Decimal("0.01")


class AccountSnapshot(models.Model):
    """Balance, equity and margin of one account at one time (`sync_accounts`). Money in the account's currency."""

    account = models.ForeignKey(
        VenueAccount, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("account")
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    at = models.DateTimeField(_("time"))
    currency = models.CharField(_("currency"), max_length=8)
    balance = models.DecimalField(_("balance"), max_digits=20, decimal_places=8)
    equity = models.DecimalField(_("equity"), max_digits=20, decimal_places=8)
    used_margin = models.DecimalField(_("used margin"), max_digits=20, decimal_places=8)
    margin_level = models.DecimalField(
        _("margin level (%)"),
        max_digits=20,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Empty: no margin in use."),
    )
    positions = models.JSONField(
        _("positions"),
        default=list,
        blank=True,
        help_text=_("The venue's positions at that time: symbol, quantity, entry, mark and liquidation price."),
    )
    margin_terms = models.JSONField(
        _("margin terms"),
        default=dict,
        blank=True,
        help_text=_(
            "How the used margin was found: the venue's own figure, the terminal's order_calc_margin, or for a paper "
            "account the venue's rule it was computed by (leverage, brackets, calc mode, margin rate)."
        ),
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("account snapshot")
        verbose_name_plural = _("account snapshots")
        ordering = ["-at"]
        indexes = [models.Index(fields=["account", "-at"], name="snapshot_account_time")]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def unrealised(self) -> Any:
        """Equity − balance: the open positions' PnL at the snapshot's marks."""
        return self.equity - self.balance

    @property
    def free_margin(self) -> Any:
        return self.equity - self.used_margin

    @property
    def margin_basis(self) -> str:
        """How the used margin was found, in words (from `margin_terms`); empty when the snapshot does not say."""
        terms = self.margin_terms or {}
        rule, source = terms.get("rule"), terms.get("source")
        if rule == "binance_brackets":
            text = (
                _("Paper: Binance leverage brackets (configured) at %(leverage)s×")
                if terms.get("brackets") == "configured"
                else _("Paper: Binance leverage brackets (defaults, assumed) at %(leverage)s×")
            ) % {"leverage": terms.get("effective_leverage", terms.get("leverage"))}
        elif rule == "mt5":
            text = _("Paper: MT5 %(mode)s mode at 1:%(leverage)s, margin rate %(rate)s") % {
                "mode": terms.get("calc_mode", ""),
                "leverage": terms.get("leverage"),
                "rate": terms.get("margin_rate"),
            }
        elif source == "terminal":
            text = (
                _("As reported by the MT5 terminal; one lot needs %(buy)s %(currency)s to buy, %(sell)s to sell")
                % {
                    "buy": Decimal(terms["buy_per_lot"]).quantize(CENT),
                    "sell": Decimal(terms["sell_per_lot"]).quantize(CENT),
                    "currency": self.currency,
                }
                if "buy_per_lot" in terms
                else str(_("As reported by the MT5 terminal"))
            )
        elif source == "venue":
            text = str(_("As reported by Binance"))
        else:
            return ""
        if terms.get("mark") == "entry":
            text = _("%(basis)s; no quote yet: positions held at their entry price") % {"basis": text}
        return str(text)


# Sign-ins a user can see and end: in their own module, loaded with the app's models.
from .session_models import ApiTokenGrant as ApiTokenGrant  # noqa: E402
from .session_models import PortalSession as PortalSession  # noqa: E402
from .session_models import RevokedAccessToken as RevokedAccessToken  # noqa: E402
from .session_models import SessionEnd as SessionEnd  # noqa: E402
