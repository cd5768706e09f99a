from django.urls import path

from . import figures, views

urlpatterns = [
    path("summary/", figures.RiskSummary.as_view(), name="api-risk-summary"),
    path("pools/<int:pool_id>/", figures.RiskPool.as_view(), name="api-risk-pool"),
    path("history/", figures.RiskHistory.as_view(), name="api-risk-history"),
    path("limits/", views.RiskLimitList.as_view(), name="api-risk-limits"),
    path("limits/<int:limit_id>/", views.RiskLimitDetail.as_view(), name="api-risk-limit"),
    path("breaches/", views.BreachList.as_view(), name="api-risk-breaches"),
    path("breaches/<int:breach_id>/confirm/", views.BreachConfirm.as_view(), name="api-risk-breach-confirm"),
]
