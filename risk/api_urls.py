from django.urls import path

from . import api

urlpatterns = [
    path("transfers/", api.TransferList.as_view(), name="api-transfers"),
    path("transfers/<int:transfer_id>/", api.TransferDetail.as_view(), name="api-transfer"),
    path("transfers/<int:transfer_id>/approve/", api.TransferApprove.as_view(), name="api-transfer-approve"),
    path("transfers/<int:transfer_id>/complete/", api.TransferComplete.as_view(), name="api-transfer-complete"),
    path("transfers/<int:transfer_id>/reject/", api.TransferReject.as_view(), name="api-transfer-reject"),
    path("transfers/<int:transfer_id>/cancel/", api.TransferCancel.as_view(), name="api-transfer-cancel"),
]
