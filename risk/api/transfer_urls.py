from django.urls import path

from . import transfers

urlpatterns = [
    path("transfers/", transfers.TransferList.as_view(), name="api-transfers"),
    path("transfers/<int:transfer_id>/", transfers.TransferDetail.as_view(), name="api-transfer"),
    path("transfers/<int:transfer_id>/approve/", transfers.TransferApprove.as_view(), name="api-transfer-approve"),
    path("transfers/<int:transfer_id>/complete/", transfers.TransferComplete.as_view(), name="api-transfer-complete"),
    path("transfers/<int:transfer_id>/reject/", transfers.TransferReject.as_view(), name="api-transfer-reject"),
    path("transfers/<int:transfer_id>/cancel/", transfers.TransferCancel.as_view(), name="api-transfer-cancel"),
]
