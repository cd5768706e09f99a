"""Alerts over the API: read for every role that reads alerts, ack/resolve for admins and traders, channels,
rules and deliveries for admins. Channel writes go through the portal's form; secrets are accepted in a
`secrets` object and never returned. A foreign id answers 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.permissions import Perm
from alerts.forms import ChannelForm, RuleForm
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
from quantarb.api import form_value, json_object

from .filters import AlertFilterSet
from .serializers import (
    AlertDetailSerializer,
    AlertSerializer,
    ChannelSerializer,
    ChannelWriteSerializer,
    DeliverySerializer,
    RuleSerializer,
)

_SECRET_NAMES = {"signing_key": "signing_key", "bot_token": "bot_token", "url": "apprise_url"}


def _one(queryset: QuerySet[Any], pk: int) -> Any:
    row = queryset.filter(pk=pk).first()
    if row is None:
        raise Http404
    return row


def _form_errors(form: Any) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    reverse_secret = {form_name: api_name for api_name, form_name in _SECRET_NAMES.items()}
    for field, messages in form.errors.items():
        texts = [str(message) for message in messages]
        if field in reverse_secret:
            errors.setdefault("secrets", {})[reverse_secret[field]] = texts
        else:
            errors["non_field_errors" if field == "__all__" else field] = texts
    return errors


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
def _channel_form_data(request: Request, instance: Channel | None) -> dict[str, Any]:
    body = json_object(request.data)
    secrets = body.get("secrets") or {}
    if not isinstance(secrets, dict):
        raise ValidationError({"secrets": ["Send the secrets as an object."]})
    unknown = set(secrets) - set(_SECRET_NAMES)
    if unknown:
        raise ValidationError({"secrets": [f"Unknown secret(s): {', '.join(sorted(unknown))}."]})
    fields = ("name", "kind", "target", "min_severity", "quiet_start", "quiet_end", "repeat_after_s", "max_per_hour")
    data: dict[str, Any] = {}
    if instance is not None:
        data = {field: getattr(instance, field) for field in fields}
        data["categories"] = list(instance.categories)
        data["enabled"] = instance.enabled
    else:
        data = {"min_severity": "warning", "repeat_after_s": 3600, "max_per_hour": 30, "enabled": True}
    for field in (*fields, "categories", "enabled"):
        if field in body:
            data[field] = form_value(field, body[field], many=field == "categories", boolean=field == "enabled")
    if not data.get("enabled"):
        data.pop("enabled", None)  # a checkbox: absent means off
    for api_name, form_name in _SECRET_NAMES.items():
        if api_name in secrets:
            data[form_name] = str(form_value(f"secrets.{api_name}", secrets[api_name]))
    return data


class ChannelList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's notification channels (secrets as masked hints). POST creates one."""

    required_permission = Perm.ALERT_MANAGE
    serializer_class = ChannelSerializer

    def get_queryset(self) -> QuerySet[Channel]:
        return channels_for(membership=require_membership(self.request))

    @extend_schema(request=ChannelWriteSerializer, responses={201: ChannelSerializer})
    def post(self, request: Request) -> Response:
        form = ChannelForm(data=_channel_form_data(request, None), tenant=require_tenant(request))
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        channel = channel_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
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
        form = ChannelForm(data=_channel_form_data(request, channel), instance=channel, tenant=channel.tenant)
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        channel = channel_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
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

    @extend_schema(request=RuleSerializer, responses=RuleSerializer)
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = _one(rules_for(membership=require_membership(request)), rule_id)
        body = request.data if isinstance(request.data, dict) else {}
        params = body.get("params", {})
        if not isinstance(params, dict):
            return Response({"params": ["Send the parameters as an object."]}, status=status.HTTP_400_BAD_REQUEST)
        data: dict[str, Any] = {"severity": body.get("severity", rule.severity), **rule.params, **params}
        if body.get("enabled", rule.enabled):
            data["enabled"] = "on"
        form = RuleForm(data=data, rule=rule)
        unknown = set(params) - set(form.fields)
        if unknown:
            return Response({"params": [f"Unknown parameter(s): {', '.join(sorted(unknown))}."]}, status=400)
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        rule = rule_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
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
