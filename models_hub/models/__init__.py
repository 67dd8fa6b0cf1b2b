"""Models of the models hub: the security master and prices (market), the IPC's program."""

from models_hub.models.market import (
    Price,
    PriceQuerySet,
    Security,
    SecurityQuerySet,
    SecurityStatus,
    SecurityType,
)
from models_hub.models.programs import (
    INHERITING_KINDS,
    MAX_INHERITANCE_DEPTH,
    PATH_SEPARATOR,
    AssetClass,
    Definition,
    DefinitionKind,
    DefinitionVersion,
    ModelSubscription,
)

__all__ = [
    "INHERITING_KINDS",
    "MAX_INHERITANCE_DEPTH",
    "PATH_SEPARATOR",
    "AssetClass",
    "Definition",
    "DefinitionKind",
    "DefinitionVersion",
    "ModelSubscription",
    "Price",
    "PriceQuerySet",
    "Security",
    "SecurityQuerySet",
    "SecurityStatus",
    "SecurityType",
]
