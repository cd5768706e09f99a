from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    TRADER = "trader", _("Trader")
    ANALYST = "analyst", _("Analyst")
    VIEWER = "viewer", _("Viewer")
    COMPLIANCE = "compliance", _("Compliance")


class UserStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    LAPSED = "lapsed", _("Lapsed")


class Theme(models.TextChoices):
    DARK = "dark", _("Dark")
    LIGHT = "light", _("Light")


class AuditAction(models.TextChoices):
    """What an audit event records. Values are stored and hashed: never rename one."""

    LOGIN = "login", _("Login")
    LOGOUT = "logout", _("Logout")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOCKOUT = "lockout", _("Lockout")
    TOKEN_ISSUED = "token_issued", _("Token issued")
    TOKEN_REFRESHED = "token_refreshed", _("Token refreshed")
    TOKEN_REVOKED = "token_revoked", _("Token revoked")
    MEMBERSHIP_CREATED = "membership_created", _("Membership created")
    MEMBERSHIP_CHANGED = "membership_changed", _("Membership changed")
    MEMBERSHIP_DELETED = "membership_deleted", _("Membership deleted")
    ROLE_CHANGED = "role_changed", _("Role changed")
    USER_CREATED = "user_created", _("User created")
    SECRET_CREATED = "secret_created", _("Secret created")
    SECRET_UPDATED = "secret_updated", _("Secret updated")
    SECRET_TESTED = "secret_tested", _("Secret tested")
    SECRET_VIEWED = "secret_viewed", _("Secret viewed")
    STRATEGY_STARTED = "strategy_started", _("Strategy started")
    STRATEGY_STOPPED = "strategy_stopped", _("Strategy stopped")
    ORDER_SUBMITTED = "order_submitted", _("Order submitted")
    ORDER_CANCELLED = "order_cancelled", _("Order cancelled")
    KILL_SWITCH = "kill_switch", _("Kill switch")
    RECONCILIATION_SYNC = "reconciliation_sync", _("Reconciliation sync")
    SETTINGS_CHANGED = "settings_changed", _("Settings changed")
    GRANT_ADDED = "grant_added", _("Object right granted")
    GRANT_REMOVED = "grant_removed", _("Object right revoked")
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", _("Two-factor enrolled")
    LOCKOUT_CLEARED = "lockout_cleared", _("Lockout cleared")
    TWO_FACTOR_RESET = "two_factor_reset", _("Two-factor reset")
    ALERT_ACKNOWLEDGED = "alert_acknowledged", _("Alert acknowledged")
    ALERT_RESOLVED = "alert_resolved", _("Alert resolved")
    ALERT_CHANNEL_SAVED = "alert_channel_saved", _("Notification channel saved")
    ALERT_CHANNEL_DELETED = "alert_channel_deleted", _("Notification channel deleted")
    ALERT_RULE_SAVED = "alert_rule_saved", _("Alert rule saved")
    ALERT_DELIVERY_RETRIED = "alert_delivery_retried", _("Notification retried")
    INVITATION_SENT = "invitation_sent", _("Invitation sent")
    INVITATION_ACCEPTED = "invitation_accepted", _("Invitation accepted")
    INVITATION_DECLINED = "invitation_declined", _("Invitation declined")
    INVITATION_WITHDRAWN = "invitation_withdrawn", _("Invitation withdrawn")
    QUOTE_SOURCE_SAVED = "quote_source_saved", _("Quote source saved")
    QUOTE_SOURCE_DELETED = "quote_source_deleted", _("Quote source deleted")
    PAIR_SAVED = "pair_saved", _("Pair saved")
    PAIR_DELETED = "pair_deleted", _("Pair deleted")
    CASH_FLOW_ENTERED = "cash_flow_entered", _("Cash flow entered")
    CASH_FLOW_APPROVED = "cash_flow_approved", _("Cash flow approved")
    CASH_FLOW_REJECTED = "cash_flow_rejected", _("Cash flow rejected")
    CASH_FLOW_BOOKED = "cash_flow_booked", _("Cash flow booked")
    CASH_FLOW_CORRECTED = "cash_flow_corrected", _("Cash flow corrected")
    CASH_FLOW_WITHDRAWN = "cash_flow_withdrawn", _("Cash flow withdrawn")
    TERMINAL_ACTION = "terminal_action", _("MT5 terminal action")
    COMPLIANCE_RULE_SAVED = "compliance_rule_saved", _("Compliance rule saved")
    COMPLIANCE_RULE_DELETED = "compliance_rule_deleted", _("Compliance rule deleted")
    COMPLIANCE_REFUSED = "compliance_refused", _("Order refused by a compliance rule")
    TRANSFER_REQUESTED = "transfer_requested", _("Transfer requested")
    TRANSFER_APPROVED = "transfer_approved", _("Transfer approved")
    TRANSFER_DONE = "transfer_done", _("Transfer done")
    TRANSFER_REJECTED = "transfer_rejected", _("Transfer rejected")
    TRANSFER_CANCELLED = "transfer_cancelled", _("Transfer cancelled")
    RISK_LIMIT_SAVED = "risk_limit_saved", _("Risk limit saved")
    RISK_LIMIT_BREACH = "risk_limit_breach", _("Risk limit breach")
    POOL_CREATED = "pool_created", _("Account pool created")
    POOL_UPDATED = "pool_updated", _("Account pool updated")
    POOL_DELETED = "pool_deleted", _("Account pool deleted")
    TERMINAL_ADDED = "terminal_added", _("MT5 terminal added")
    TERMINAL_DELETED = "terminal_deleted", _("MT5 terminal deleted")


class AccountMode(models.TextChoices):
    PAPER = "paper", _("Paper")
    LIVE = "live", _("Live")


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")
    ERROR = "error", _("Error")


class MarginType(models.TextChoices):
    CROSS = "cross", _("Cross")
    ISOLATED = "isolated", _("Isolated")
