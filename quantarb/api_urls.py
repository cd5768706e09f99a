from django.urls import include, path

from quantarb import views as platform_views

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("market/", include("trading.api.urls")),
    path("system/status/", platform_views.SystemStatusView.as_view(), name="system-status"),
]
