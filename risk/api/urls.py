from django.urls import path

from . import views

urlpatterns = [
    path("summary/", views.RiskSummary.as_view(), name="api-risk-summary"),
    path("pools/<int:pool_id>/", views.RiskPool.as_view(), name="api-risk-pool"),
    path("history/", views.RiskHistory.as_view(), name="api-risk-history"),
]
