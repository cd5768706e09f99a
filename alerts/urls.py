from django.urls import path

from . import views

urlpatterns = [
    path("", views.alert_list, name="alerts"),
    path("badge/", views.alert_badge, name="alert_badge"),
    path("<int:alert_id>/", views.alert_detail, name="alert"),
    path("<int:alert_id>/ack/", views.alert_ack, name="alert_ack"),
    path("<int:alert_id>/resolve/", views.alert_resolve_view, name="alert_resolve"),
    path("channels/", views.channel_list, name="alert_channels"),
    path("channels/<int:channel_id>/", views.channel_detail, name="alert_channel"),
    path("channels/<int:channel_id>/test/", views.channel_test, name="alert_channel_test"),
    path("channels/<int:channel_id>/delete/", views.channel_delete_view, name="alert_channel_delete"),
    path("rules/", views.rule_list, name="alert_rules"),
    path("rules/<int:rule_id>/", views.rule_detail, name="alert_rule"),
    path("deliveries/", views.delivery_list, name="alert_deliveries"),
    path("deliveries/<int:delivery_id>/retry/", views.delivery_retry_view, name="alert_delivery_retry"),
]
