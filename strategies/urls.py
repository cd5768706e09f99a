from django.urls import path

from . import strip, views

urlpatterns = [
    path("", views.strategy_list, name="strategies"),
    path("strip/", strip.trading_strip_view, name="trading_strip"),
    path("new/", views.strategy_new, name="strategy_create"),
    path("<int:strategy_id>/", views.strategy_detail, name="strategy"),
    path("<int:strategy_id>/status/", views.strategy_status_panel, name="strategy_status"),
    path("<int:strategy_id>/lifecycle/", views.strategy_lifecycle, name="strategy_lifecycle"),
    path("<int:strategy_id>/confirm/<str:action>/", views.strategy_confirm, name="strategy_confirm"),
    path("<int:strategy_id>/edit/", views.strategy_edit, name="strategy_edit"),
    path("<int:strategy_id>/versions/", views.strategy_versions, name="strategy_versions"),
]
