from django.urls import include, path

from accounts.api import venue_views
from quantarb import views as platform_views

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("market/", include("trading.marketdata.api.urls")),
    path("accounts/", venue_views.AccountList.as_view(), name="api-venue-accounts"),
    path("accounts/<int:account_id>/", venue_views.AccountDetail.as_view(), name="api-venue-account"),
    path("accounts/<int:account_id>/test/", venue_views.AccountTest.as_view(), name="api-venue-account-test"),
    path("pools/", venue_views.PoolList.as_view(), name="api-pools"),
    path("pools/<int:pool_id>/", venue_views.PoolDetail.as_view(), name="api-pool"),
    path("alerts/", include("alerts.api.urls")),
    path("mt5/", include("mt5ops.api.urls")),
    path("risk/", include("risk.api.urls")),
    path("", include("strategies.api.urls")),
    path("", include("trading.portfolio.api.urls")),
    path("", include("risk.api.transfer_urls")),
    path("system/status/", platform_views.SystemStatusView.as_view(), name="system-status"),
]
