from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from accounts import export_views, session_views, venue_views
from accounts import views as account_views
from quantarb import views as platform_views
from quantarb.api_schema import SchemaView
from trading.marketdata import setup_views as market_views
from trading.portfolio import views as portfolio_views

# A database outage answers 503 wherever it happens (quantarb/outage.py); the API's errors are JSON.
handler500 = "quantarb.outage.server_error"
handler404 = "quantarb.outage.page_not_found"
handler400 = "quantarb.outage.bad_request"
handler403 = "quantarb.outage.permission_denied"

urlpatterns = [
    path("", include("trading.marketdata.urls")),
    path("healthz", platform_views.healthz, name="healthz"),
    path("readyz", platform_views.readyz, name="readyz"),
    path("metrics", platform_views.metrics, name="metrics"),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/two-factor/", account_views.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/enrol/", account_views.two_factor_enrol, name="two_factor_enrol"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/language/", account_views.set_language, name="set_language"),
    path("accounts/theme/", account_views.set_theme, name="set_theme"),
    path("accounts/tenant/", account_views.switch_tenant, name="switch_tenant"),
    path("accounts/sessions/", session_views.my_sessions, name="my_sessions"),
    path("accounts/sessions/<int:session_id>/revoke/", session_views.my_session_revoke, name="my_session_revoke"),
    path("accounts/tokens/<int:grant_id>/revoke/", session_views.my_token_revoke, name="my_token_revoke"),
    path("audit/export/", export_views.audit_export_start, name="audit_export_start"),
    path("jobs/<int:job_id>/", export_views.long_job, name="long_job"),
    path("jobs/<int:job_id>/download/", export_views.long_job_download, name="long_job_download"),
    path("members/", account_views.members, name="members"),
    path("members/<int:membership_id>/sessions/", session_views.member_sessions, name="member_sessions"),
    path(
        "members/<int:membership_id>/sessions/revoke/",
        session_views.member_sessions_revoke,
        name="member_sessions_revoke",
    ),
    path("members/<int:membership_id>/role/", account_views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", account_views.member_remove, name="member_remove"),
    path("members/<int:membership_id>/grants/", account_views.member_grants, name="member_grants"),
    path(
        "members/<int:membership_id>/unlock/",
        account_views.member_account,
        {"action": "unlock"},
        name="member_unlock",
    ),
    path(
        "members/<int:membership_id>/suspend/",
        account_views.member_account,
        {"action": "suspend"},
        name="member_suspend",
    ),
    path(
        "members/<int:membership_id>/reinstate/",
        account_views.member_account,
        {"action": "reinstate"},
        name="member_reinstate",
    ),
    path(
        "members/<int:membership_id>/two-factor/reset/",
        account_views.member_two_factor_reset,
        name="member_two_factor_reset",
    ),
    path(
        "members/invitations/<int:invitation_id>/withdraw/",
        account_views.invitation_withdraw_view,
        name="invitation_withdraw",
    ),
    path("invitations/", account_views.invitations, name="invitations"),
    path("accounts/join/", account_views.invitation_join, name="invitation_join"),
    path(
        "invitations/<int:invitation_id>/accept/",
        account_views.invitation_answer,
        {"answer": "accept"},
        name="invitation_accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline/",
        account_views.invitation_answer,
        {"answer": "decline"},
        name="invitation_decline",
    ),
    path("venues/accounts/", venue_views.account_list, name="venue_accounts"),
    path("venues/accounts/new/", venue_views.account_create, name="venue_account_create"),
    path("venues/accounts/<int:account_id>/", venue_views.account_detail, name="venue_account"),
    path("venues/accounts/<int:account_id>/test/", venue_views.account_test_view, name="venue_account_test"),
    path("venues/accounts/<int:account_id>/delete/", venue_views.account_delete_view, name="venue_account_delete"),
    path("venues/terminals/", include("mt5ops.urls")),
    path("venues/pools/", venue_views.pool_list, name="pools"),
    path("venues/pools/new/", venue_views.pool_create, name="pool_create"),
    path("venues/pools/<int:pool_id>/", venue_views.pool_detail, name="pool"),
    path("venues/pools/<int:pool_id>/delete/", venue_views.pool_delete, name="pool_delete"),
    path("venues/sources/", market_views.source_list, name="quote_sources"),
    path("venues/sources/new/", market_views.source_create, name="quote_source_create"),
    path("venues/sources/<int:source_id>/", market_views.source_detail, name="quote_source"),
    path("venues/sources/<int:source_id>/delete/", market_views.source_delete, name="quote_source_delete"),
    path("venues/pairs/", market_views.pair_list, name="source_pairs"),
    path("venues/pairs/new/", market_views.pair_create, name="source_pair_create"),
    path("venues/pairs/<int:pair_id>/", market_views.pair_detail, name="source_pair"),
    path("venues/pairs/<int:pair_id>/delete/", market_views.pair_delete_view, name="source_pair_delete"),
    path("alerts/", include("alerts.urls")),
    path("mt5/", include("mt5ops.page_urls")),
    path("strategies/", include("strategies.urls")),
    path("trading/", include("trading.desk.urls")),
    path("risk/", include("risk.urls")),
    path("portfolio/", include("trading.portfolio.urls")),
    path("reports/", portfolio_views.reports, name="reports"),
    path("api/v1/", include("quantarb.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script at its own URL (`?script`), not inline, and our page names
    # a stylesheet instead of an inline style element: the Content-Security-Policy allows neither (settings/base.py).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    # The schema's first address, kept for programs that read it there.
    path("api/v1/schema/", SchemaView.as_view(), name="api-schema-v1"),
    path("admin/", admin.site.urls),
]
