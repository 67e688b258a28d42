"""CDS Hooks 2.0 request and response models (field names exactly as the specification spells
them, hence camelCase). Requests accept unknown fields (the specification lets clients add
context and extensions); a malformed request is a 422 listing the fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FHIR_ID_MAX = 200


class ServiceOut(BaseModel):
    """One CDS Service of the discovery response."""

    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str] = Field(default_factory=dict)
    usageRequirements: str | None = None


class DiscoveryOut(BaseModel):
    services: list[ServiceOut]


class BundleEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    fullUrl: str | None = None
    resource: dict[str, Any] | None = None


class DraftOrders(BaseModel):
    """`context.draftOrders`: a FHIR R4 Bundle of the orders being written."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Bundle"]
    entry: list[BundleEntry] = Field(default_factory=list, max_length=1000)


class HookContext(BaseModel):
    """The `context` of order-select, order-sign and patient-view (other fields are kept)."""

    model_config = ConfigDict(extra="allow")

    userId: str | None = Field(default=None, max_length=FHIR_ID_MAX)
    patientId: str | None = Field(default=None, max_length=FHIR_ID_MAX)
    encounterId: str | None = Field(default=None, max_length=FHIR_ID_MAX)
    selections: list[str] | None = Field(default=None, max_length=1000)
    draftOrders: DraftOrders | None = None


class HookRequest(BaseModel):
    """A CDS Hooks call: `hook`, `hookInstance`, `context`, optional `prefetch` and FHIR server
    fields (pgxguard answers from its own records and does not call back)."""

    model_config = ConfigDict(extra="allow")

    hook: str = Field(min_length=1, max_length=100)
    hookInstance: str = Field(min_length=1, max_length=100)
    fhirServer: str | None = None
    fhirAuthorization: dict[str, Any] | None = None
    context: HookContext
    prefetch: dict[str, Any] | None = None


class CardsOut(BaseModel):
    """The CDS Hooks response. Cards are JSON objects as `report.cards.cds_cards` writes them."""

    cards: list[dict[str, Any]]
    systemActions: list[dict[str, Any]] = Field(default_factory=list)
    extension: dict[str, Any] | None = None


__all__ = ["BundleEntry", "CardsOut", "DiscoveryOut", "DraftOrders", "HookContext",
           "HookRequest", "ServiceOut"]
