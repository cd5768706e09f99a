"""Routes of the trading API, mounted under /api/v1/ (quantarb/api_urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("strategies/", api.StrategyList.as_view(), name="api-strategies"),
    path("strategies/<int:strategy_id>/", api.StrategyDetail.as_view(), name="api-strategy"),
    path("strategies/<int:strategy_id>/versions/", api.StrategyVersions.as_view(), name="api-strategy-versions"),
    *[
        path(
            f"strategies/<int:strategy_id>/{action}/",
            api.StrategyLifecycle.as_view(action=action),
            name=f"api-strategy-{action}",
        )
        for action in ("start", "stop", "pause", "resume", "restart")
    ],
    path("hedges/", api.HedgeList.as_view(), name="api-hedges"),
    path("orders/", api.OrderList.as_view(), name="api-orders"),
    path("fills/", api.FillList.as_view(), name="api-fills"),
    path("positions/", api.PositionList.as_view(), name="api-positions"),
    path("kill-switches/", api.KillSwitchList.as_view(), name="api-kill-switches"),
    path("kill-switches/<int:switch_id>/reset/", api.KillSwitchReset.as_view(), name="api-kill-switch-reset"),
    path("reconciliation/", api.ReportList.as_view(), name="api-reconciliation"),
    path("reconciliation/<int:report_id>/", api.ReportDetail.as_view(), name="api-reconciliation-report"),
    path("reconciliation/<int:report_id>/sync/", api.ReportSync.as_view(), name="api-reconciliation-sync"),
    path("manual-commands/", api.CommandList.as_view(), name="api-manual-commands"),
    path("manual-commands/<int:command_id>/", api.CommandDetail.as_view(), name="api-manual-command"),
]
