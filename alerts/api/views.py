"""Alerts over the API: read for every role that reads alerts, ack/resolve for admins and traders, channels,
rules and deliveries for admins. Writes are read by the write serializers and checked as the portal's forms check
them (alerts/checks.py); secrets are accepted in a `secrets` object and never returned. A foreign id answers 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.permissions import Perm
from alerts.models import Alert, AlertRule, Channel, Delivery
from alerts.rules import rules_ensure_defaults
from alerts.selectors import alerts_for, channels_for, deliveries_for, rules_for
from alerts.services import (
    AlertStateError,
    alert_acknowledge,
    alert_resolve,
    channel_delete,
    channel_save,
    channel_send_test,
    delivery_retry,
    rule_save,
)
from quantarb.api import json_object

from .filters import AlertFilterSet
from .serializers import (
    AlertDetailSerializer,
    AlertSerializer,
    ChannelSerializer,
    ChannelWriteSerializer,
    DeliverySerializer,
    RuleSerializer,
    RuleWriteSerializer,
)


def _one(queryset: QuerySet[Any], pk: int) -> Any:
    row = queryset.filter(pk=pk).first()
    if row is None:
        raise Http404
    return row


# --- alerts ---------------------------------------------------------------------------------------------------
class AlertList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's alerts, newest activity first. Filters: `status`, `severity`, `category` (`filters.py`)."""

    required_permission = Perm.ALERT_READ
    serializer_class = AlertSerializer
    queryset = Alert.objects.none()  # the schema's model; rows come from get_queryset
    filter_backends = [DjangoFilterBackend]
    filterset_class = AlertFilterSet

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts_for(membership=require_membership(self.request))


class AlertDetail(generics.RetrieveAPIView):  # type: ignore[type-arg]
    required_permission = Perm.ALERT_READ
    serializer_class = AlertDetailSerializer
    lookup_url_kwarg = "alert_id"

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts_for(membership=require_membership(self.request))


class _AlertAction(APIView):
    required_permission = Perm.ALERT_ACT
    perform: Any = None

    @extend_schema(request=None, responses={200: AlertSerializer, 409: None})
    def post(self, request: Request, alert_id: int) -> Response:
        alert = _one(alerts_for(membership=require_membership(request)), alert_id)
        try:
            alert = type(self).perform(
                alert=alert, actor=require_actor(request), context=AuditContext.from_request(request)
            )
        except AlertStateError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(AlertSerializer(alert).data)


class AlertAck(_AlertAction):
    """Acknowledge an open alert (audited with the caller)."""

    perform = staticmethod(alert_acknowledge)


class AlertResolve(_AlertAction):
    """Resolve an open or acknowledged alert (audited with the caller)."""

    perform = staticmethod(alert_resolve)


# --- channels -------------------------------------------------------------------------------------------------
def _stored_channel(channel: Channel) -> dict[str, Any]:
    """A channel's stored values as a write body gives them (a PATCH changes only what it sends; secrets are kept
    unless sent)."""
    fields = ("name", "kind", "target", "min_severity", "quiet_start", "quiet_end", "repeat_after_s", "max_per_hour")
    return {
        **{name: getattr(channel, name) for name in fields},
        "categories": list(channel.categories or []),
        "enabled": channel.enabled,
    }


class ChannelList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's notification channels (secrets as masked hints). POST creates one."""

    required_permission = Perm.ALERT_MANAGE
    serializer_class = ChannelSerializer

    def get_queryset(self) -> QuerySet[Channel]:
        return channels_for(membership=require_membership(self.request))

    @extend_schema(request=ChannelWriteSerializer, responses={201: ChannelSerializer})
    def post(self, request: Request) -> Response:
        tenant = require_tenant(request)
        serializer = ChannelWriteSerializer(data=json_object(request.data), context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        channel = channel_save(
            tenant=tenant,
            channel=None,
            values=serializer.checked,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetail(APIView):
    """One channel. PATCH changes it (secrets given replace the stored ones; absent ones are kept)."""

    required_permission = Perm.ALERT_MANAGE

    @extend_schema(responses=ChannelSerializer)
    def get(self, request: Request, channel_id: int) -> Response:
        return Response(ChannelSerializer(_one(channels_for(membership=require_membership(request)), channel_id)).data)

    @extend_schema(request=ChannelWriteSerializer, responses=ChannelSerializer)
    def patch(self, request: Request, channel_id: int) -> Response:
        channel = _one(channels_for(membership=require_membership(request)), channel_id)
        data = {**_stored_channel(channel), **json_object(request.data)}
        serializer = ChannelWriteSerializer(channel, data=data, context={"tenant": channel.tenant})
        serializer.is_valid(raise_exception=True)
        channel = channel_save(
            tenant=channel.tenant,
            channel=channel,
            values=serializer.checked,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(ChannelSerializer(channel).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, channel_id: int) -> Response:
        channel = _one(channels_for(membership=require_membership(request)), channel_id)
        channel_delete(channel=channel, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTest(APIView):
    """Send a test notification now; answers with its delivery."""

    required_permission = Perm.ALERT_MANAGE

    @extend_schema(request=None, responses=DeliverySerializer)
    def post(self, request: Request, channel_id: int) -> Response:
        channel = _one(channels_for(membership=require_membership(request)), channel_id)
        delivery = channel_send_test(
            channel=channel, actor=require_actor(request), context=AuditContext.from_request(request)
        )
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data)


# --- rules ----------------------------------------------------------------------------------------------------
class RuleList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's alert rules, one per registered rule type (created with defaults on first read)."""

    required_permission = Perm.ALERT_MANAGE
    serializer_class = RuleSerializer

    def get_queryset(self) -> QuerySet[AlertRule]:
        tenant = require_tenant(self.request)
        rules_ensure_defaults(tenant=tenant)
        return rules_for(membership=require_membership(self.request))


class RuleDetail(APIView):
    """One rule. PATCH `enabled`, `severity` and `params` (validated against the rule type)."""

    required_permission = Perm.ALERT_MANAGE

    @extend_schema(responses=RuleSerializer)
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(RuleSerializer(_one(rules_for(membership=require_membership(request)), rule_id)).data)

    @extend_schema(request=RuleWriteSerializer, responses=RuleSerializer)
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = _one(rules_for(membership=require_membership(request)), rule_id)
        data = {"enabled": rule.enabled, "severity": rule.severity, **json_object(request.data)}
        serializer = RuleWriteSerializer(rule, data=data)
        serializer.is_valid(raise_exception=True)
        rule = rule_save(
            rule=rule,
            enabled=serializer.validated_data["enabled"],
            severity=serializer.validated_data["severity"],
            params=serializer.checked_params,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(RuleSerializer(rule).data)


# --- deliveries -----------------------------------------------------------------------------------------------
class DeliveryList(generics.ListAPIView):  # type: ignore[type-arg]
    """The notification history: every delivery with its attempts, status, response or error."""

    required_permission = Perm.ALERT_MANAGE
    serializer_class = DeliverySerializer

    def get_queryset(self) -> QuerySet[Delivery]:
        return deliveries_for(membership=require_membership(self.request))


class DeliveryRetry(APIView):
    """Send a failed, throttled or held delivery again."""

    required_permission = Perm.ALERT_MANAGE

    @extend_schema(request=None, responses={200: DeliverySerializer, 409: None})
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = _one(deliveries_for(membership=require_membership(request)), delivery_id)
        try:
            delivery_retry(delivery=delivery, actor=require_actor(request), context=AuditContext.from_request(request))
        except AlertStateError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data)
