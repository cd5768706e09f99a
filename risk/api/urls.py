from django.urls import path

from . import views

urlpatterns = [
    path("limits/", views.RiskLimitList.as_view(), name="api-risk-limits"),
    path("limits/<int:limit_id>/", views.RiskLimitDetail.as_view(), name="api-risk-limit"),
    path("breaches/", views.BreachList.as_view(), name="api-risk-breaches"),
    path("breaches/<int:breach_id>/confirm/", views.BreachConfirm.as_view(), name="api-risk-breach-confirm"),
]
