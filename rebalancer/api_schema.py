"""The OpenAPI schema class: every operation documents its error answers, not only its 200.

Kept apart from :mod:`rebalancer.drf` (which DRF imports while its settings load): this module
imports drf-spectacular's schema generator, which itself reads DRF's settings.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi

_ERROR_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "description": "Each key names a parameter (or `detail`) with the reasons.",
            "additionalProperties": True,
        }
    }
}

_ERRORS = {
    "400": "A query parameter or value is not supported (an id that is not a positive integer, a "
    "control character, an unknown choice or parameter); the body names each one.",
    "401": "Not logged in and no valid API token.",
    "403": "Your role may not do this.",
    "404": "Not found: no such object in your firm (another firm's is never shown), a page past "
    "the end, or a cursor that is not one.",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema with 400, 401, 403 and 404 documented on every operation."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in _ERRORS.items():
            responses.setdefault(code, {"description": description, "content": _ERROR_BODY})
        return responses
