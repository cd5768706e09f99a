from django.urls import path

from . import views

urlpatterns = [
    path("", views.AlertList.as_view(), name="api-alerts"),
    path("<int:alert_id>/", views.AlertDetail.as_view(), name="api-alert"),
    path("<int:alert_id>/ack/", views.AlertAck.as_view(), name="api-alert-ack"),
    path("<int:alert_id>/resolve/", views.AlertResolve.as_view(), name="api-alert-resolve"),
    path("channels/", views.ChannelList.as_view(), name="api-alert-channels"),
    path("channels/<int:channel_id>/", views.ChannelDetail.as_view(), name="api-alert-channel"),
    path("channels/<int:channel_id>/test/", views.ChannelTest.as_view(), name="api-alert-channel-test"),
    path("rules/", views.RuleList.as_view(), name="api-alert-rules"),
    path("rules/<int:rule_id>/", views.RuleDetail.as_view(), name="api-alert-rule"),
    path("deliveries/", views.DeliveryList.as_view(), name="api-alert-deliveries"),
    path("deliveries/<int:delivery_id>/retry/", views.DeliveryRetry.as_view(), name="api-alert-delivery-retry"),
]
