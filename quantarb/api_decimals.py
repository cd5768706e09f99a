"""Decimals in API responses as plain strings (see `quantarb.api`): the serializer field, the JSON renderer, and
the installation of the field as ModelSerializer's mapping of a model DecimalField. Imports no DRF view code, so
the `DEFAULT_RENDERER_CLASSES` setting can name the renderer here without an import cycle."""

from __future__ import annotations

import decimal
from typing import Any

from django.db import models
from rest_framework import renderers, serializers
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from . import formatting


class PlainDecimalField(serializers.DecimalField):
    """DRF's DecimalField that writes its value to the field's decimal places without exponent, at any size."""

    def to_representation(self, value: Any) -> Any:
        number = formatting.to_decimal(value)
        if number is None:
            return None if value is None else str(value)
        places = self.decimal_places
        if places is None:
            exponent = number.as_tuple().exponent
            places = max(0, -exponent) if isinstance(exponent, int) else 0
        text = formatting.fixed(number, places)
        if not getattr(self, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING):
            return decimal.Decimal(text)
        return text


class PlainJSONEncoder(DRFJSONEncoder):
    """DRF's encoder, but a stray Decimal becomes its plain digits as a string (DRF makes it a float)."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            return formatting.plain(obj)
        return super().default(obj)


class JSONRenderer(renderers.JSONRenderer):
    encoder_class = PlainJSONEncoder


def install_plain_decimals() -> None:
    """Make every ModelSerializer map a model DecimalField to `PlainDecimalField` (DRF's field mapping is a class
    attribute shared by all ModelSerializers; this is the one place that changes it)."""
    serializers.ModelSerializer.serializer_field_mapping[models.DecimalField] = PlainDecimalField
