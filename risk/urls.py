from django.urls import path

from . import limit_views, transfer_views, views

urlpatterns = [
    path("", views.risk_page, name="risk"),
    path("figures/", views.risk_figures, name="risk_figures"),
    path("kill-switches/trip/", views.switch_trip, name="kill_switch_trip"),
    path("kill-switches/<int:switch_id>/reset/", views.switch_reset, name="kill_switch_reset"),
    path("limits/", limit_views.limits_page, name="risk_limits"),
    path("limits/new/", limit_views.limit_create, name="risk_limit_create"),
    path("limits/<int:limit_id>/", limit_views.limit_edit, name="risk_limit_edit"),
    path("breaches/<int:breach_id>/confirm/", limit_views.breach_confirm_view, name="risk_breach_confirm"),
    path("reconciliation/", views.report_list, name="reconciliation"),
    path("reconciliation/run/", views.report_run, name="reconciliation_run"),
    path("reconciliation/<int:report_id>/", views.report_detail, name="reconciliation_report"),
    path("reconciliation/<int:report_id>/sync/", views.report_sync, name="reconciliation_sync"),
    path("compliance/", transfer_views.compliance_page, name="compliance"),
    path("transfers/", transfer_views.transfer_list, name="transfers"),
    path(
        "transfers/<int:transfer_id>/<str:action>/",
        transfer_views.transfer_action,
        name="transfer_action",
    ),
]
