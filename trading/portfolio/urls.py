from django.urls import path

from . import views

urlpatterns = [
    path("cash-flows/", views.cash_flow_list, name="cash_flows"),
    path("cash-flows/new/", views.cash_flow_create, name="cash_flow_create"),
    path(
        "cash-flows/<int:flow_id>/approve/", views.cash_flow_decide, {"decision": "approve"}, name="cash_flow_approve"
    ),
    path("cash-flows/<int:flow_id>/reject/", views.cash_flow_decide, {"decision": "reject"}, name="cash_flow_reject"),
    path(
        "cash-flows/<int:flow_id>/withdraw/",
        views.cash_flow_decide,
        {"decision": "withdraw"},
        name="cash_flow_withdraw",
    ),
]
