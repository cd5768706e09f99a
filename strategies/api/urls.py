"""Routes of the trading API, mounted under /api/v1/ (quantarb/api_urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("strategies/", views.StrategyList.as_view(), name="api-strategies"),
    path("strategies/<int:strategy_id>/", views.StrategyDetail.as_view(), name="api-strategy"),
    path("strategies/<int:strategy_id>/versions/", views.StrategyVersions.as_view(), name="api-strategy-versions"),
    *[
        path(
            f"strategies/<int:strategy_id>/{action}/",
            views.StrategyLifecycle.as_view(action=action),
            name=f"api-strategy-{action}",
        )
        for action in ("start", "stop", "pause", "resume", "restart")
    ],
    path("hedges/", views.HedgeList.as_view(), name="api-hedges"),
    path("orders/", views.OrderList.as_view(), name="api-orders"),
    path("fills/", views.FillList.as_view(), name="api-fills"),
    path("positions/", views.PositionList.as_view(), name="api-positions"),
    path("kill-switches/", views.KillSwitchList.as_view(), name="api-kill-switches"),
    path("kill-switches/<int:switch_id>/reset/", views.KillSwitchReset.as_view(), name="api-kill-switch-reset"),
    path("reconciliation/", views.ReportList.as_view(), name="api-reconciliation"),
    path("reconciliation/<int:report_id>/", views.ReportDetail.as_view(), name="api-reconciliation-report"),
    path("reconciliation/<int:report_id>/sync/", views.ReportSync.as_view(), name="api-reconciliation-sync"),
    path("manual-commands/", views.CommandList.as_view(), name="api-manual-commands"),
    path("manual-commands/<int:command_id>/", views.CommandDetail.as_view(), name="api-manual-command"),
]
