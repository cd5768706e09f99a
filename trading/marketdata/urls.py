from django.urls import path

from trading.marketdata import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("partials/health/", views.health_strip, name="health-strip"),
    path("partials/opportunities/", views.opportunities_table, name="opportunities-table"),
]
