from django.urls import path

from . import views

urlpatterns = [
    path("terminals/", views.TerminalList.as_view(), name="api-mt5-terminals"),
    path("terminals/<int:terminal_id>/", views.TerminalDetail.as_view(), name="api-mt5-terminal"),
    path("terminals/<int:terminal_id>/health/", views.TerminalHealthView.as_view(), name="api-mt5-terminal-health"),
    path("terminals/<int:terminal_id>/actions/", views.TerminalActions.as_view(), name="api-mt5-terminal-actions"),
]
