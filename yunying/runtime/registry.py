"""The installation's effective metadata, as one immutable lookup (runtime layer).

Built from the installed packages (see ``metadata.store``); rebuilt — never
patched — when a package is installed or upgraded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from yunying.metadata.indicators import IndicatorSpec
from yunying.metadata.spec import DictionarySpec, EntitySpec, PackageSpec, RoleSpec
from yunying.runtime.entity.tables import EntityModel, EntityTables, build_model

__all__ = ["Registry"]


@dataclass(frozen=True)
class Registry:
    packages: Mapping[str, PackageSpec]
    entities: Mapping[str, EntitySpec]
    dictionaries: Mapping[str, DictionarySpec]
    model: EntityModel
    metadata_version: int = 0
    roles: Mapping[str, RoleSpec] = field(default_factory=lambda: MappingProxyType({}))
    #: qualified code (``performance.avg_los``) → indicator
    indicators: Mapping[str, IndicatorSpec] = field(
        default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_packages(cls, packages: Iterable[PackageSpec], *,
                      metadata_version: int = 0) -> "Registry":
        pkgs = {p.code: p for p in packages}
        entities = {e.qualified_code: e for p in pkgs.values() for e in p.entities}
        dictionaries = {d.qualified_code: d for p in pkgs.values() for d in p.dictionaries}
        roles = {r.qualified_code: r for p in pkgs.values() for r in p.roles}
        indicators = {i.qualified_code: i for p in pkgs.values() for i in p.indicators}
        return cls(
            packages=MappingProxyType(pkgs),
            entities=MappingProxyType(entities),
            dictionaries=MappingProxyType(dictionaries),
            model=build_model(entities.values()),
            metadata_version=metadata_version,
            roles=MappingProxyType(roles),
            indicators=MappingProxyType(indicators),
        )

    def entity(self, qualified_code: str) -> EntitySpec | None:
        return self.entities.get(qualified_code)

    def tables(self, qualified_code: str) -> EntityTables | None:
        return self.model.get(qualified_code)

    def dictionary(self, qualified_code: str) -> DictionarySpec | None:
        return self.dictionaries.get(qualified_code)

    def role(self, qualified_code: str) -> RoleSpec | None:
        return self.roles.get(qualified_code)

    def indicator(self, qualified_code: str) -> IndicatorSpec | None:
        """The indicator by its qualified code (``performance.avg_los``)."""
        return self.indicators.get(qualified_code)
