"""The OpenAPI schema documents every error the API answers (drf-spectacular POSTPROCESSING_HOOKS).

Views document what is particular to them (a 409 when a state forbids an action, a 429 on sign-in); the answers
that every operation can give are added here, once, with the body they carry (quantarb/api.py): `{"detail": ...}`,
or for 400 field messages `{"field": ["message"]}`. Schemathesis checks the served schema against the API in CI
(scripts/api_fuzz.py): an undocumented status is a failure there.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

ERROR_SCHEMA = "ErrorDetail"
VALIDATION_SCHEMA = "ValidationErrors"
_WRITES = {"post", "put", "patch", "delete"}


def _response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def document_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = {
        "type": "object",
        "properties": {"detail": {"type": "string", "description": "What went wrong, in the caller's language."}},
        "required": ["detail"],
    }
    schemas[VALIDATION_SCHEMA] = {
        "type": "object",
        "description": 'Messages by field (`{"field": ["message"]}`), or `{"detail": "message"}`.',
        "additionalProperties": {},
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _WRITES | {"get"}:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            public_endpoint = not operation.get("security") or {} in operation.get("security", [])
            wanted = {
                "400": ("Bad input: the message names the field.", VALIDATION_SCHEMA),
                "401": ("No valid credentials (a missing, expired or revoked token).", ERROR_SCHEMA),
                "503": ("The database is unavailable; retry after `Retry-After` seconds.", ERROR_SCHEMA),
            }
            if not public_endpoint or path.endswith("/schema/"):
                wanted["403"] = ("Your role or your grants do not allow this.", ERROR_SCHEMA)
            paged = any(parameter.get("name") == "page" for parameter in parameters)
            if "{" in path or paged or path.endswith("/schema/"):
                wanted["404"] = ("No such object in your tenant (or no such page).", ERROR_SCHEMA)
            for status, (description, schema) in wanted.items():
                if status not in responses:
                    responses[status] = _response(description, schema)
            # A status a view declared without a body (`409: None`) carries the error body too.
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "content" not in response:
                    schema = VALIDATION_SCHEMA if status == "400" else ERROR_SCHEMA
                    responses[status] = _response(response.get("description") or "Refused.", schema)
    return result


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view, whose own errors (an unknown `?format=`, a caller not signed in) answer JSON
    like every other error of the API. Its default renderer is the schema's YAML, which rendered them as YAML under
    the `application/vnd.oai.openapi` media type the schema documents for the schema alone."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
