from django.urls import path

from . import views

urlpatterns = [
    path("cash-flows/", views.CashFlowList.as_view(), name="api-cash-flows"),
    path("cash-flows/<int:flow_id>/", views.CashFlowDetail.as_view(), name="api-cash-flow"),
    path("cash-flows/<int:flow_id>/approve/", views.CashFlowApprove.as_view(), name="api-cash-flow-approve"),
    path("cash-flows/<int:flow_id>/reject/", views.CashFlowReject.as_view(), name="api-cash-flow-reject"),
    path("analytics/metrics/", views.AnalyticsMetrics.as_view(), name="api-analytics-metrics"),
    path("analytics/equity/", views.AnalyticsEquity.as_view(), name="api-analytics-equity"),
    path("analytics/attribution/", views.AnalyticsAttribution.as_view(), name="api-analytics-attribution"),
]
