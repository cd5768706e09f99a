from django.urls import path

from . import views

urlpatterns = [
    path("cash-flows/", views.CashFlowList.as_view(), name="api-cash-flows"),
    path("cash-flows/<int:flow_id>/", views.CashFlowDetail.as_view(), name="api-cash-flow"),
    path("cash-flows/<int:flow_id>/approve/", views.CashFlowApprove.as_view(), name="api-cash-flow-approve"),
    path("cash-flows/<int:flow_id>/reject/", views.CashFlowReject.as_view(), name="api-cash-flow-reject"),
]
