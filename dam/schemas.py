"""Shared API input schemas."""

from __future__ import annotations

from ninja import Schema
from pydantic import model_validator


class ObjectIn(Schema):
    """A request body that must be a JSON object. Ninja's schemas read attributes from
    any value, so a schema whose keys are all optional would take `[]`, `1` or `null`
    for `{}`; this refuses them with a 422 instead."""

    @model_validator(mode="before")
    @classmethod
    def _object_only(cls, data):
        raw = getattr(data, "_obj", data)  # ninja wraps the input in a DjangoGetter
        if not isinstance(raw, dict):
            raise ValueError("The request body must be a JSON object.")
        return data
