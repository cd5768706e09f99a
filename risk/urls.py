from django.urls import path

from . import views

urlpatterns = [
    path("", views.risk_page, name="risk"),
    path("kill-switches/trip/", views.switch_trip, name="kill_switch_trip"),
    path("kill-switches/<int:switch_id>/reset/", views.switch_reset, name="kill_switch_reset"),
    path("reconciliation/", views.report_list, name="reconciliation"),
    path("reconciliation/run/", views.report_run, name="reconciliation_run"),
    path("reconciliation/<int:report_id>/", views.report_detail, name="reconciliation_report"),
    path("reconciliation/<int:report_id>/sync/", views.report_sync, name="reconciliation_sync"),
]
