"""The MT5 pages' addresses (`/mt5/`, mt5ops/pages.py); the terminals' CRUD pages have theirs in mt5ops/urls.py."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.terminal_list, name="mt5"),
    path("<int:terminal_id>/", pages.terminal_detail, name="mt5_terminal"),
    path("<int:terminal_id>/<slug:action>/", pages.terminal_action_view, name="mt5_terminal_action"),
]
