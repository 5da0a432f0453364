"""The study protocol file (YAML): criteria, scale, readers and coordinators, seed, margin, de-id settings.

Example::

    name: Demo study
    seed: "2024-cxr-demo"
    criteria: ["diagnostic clarity"]      # default
    scale: {likert_min: 1, likert_max: 5}
    margin: 0.0                           # pre-registered margin for net preference
    institutions: ["St Example Hospital"] # names the de-id gate looks for
    strict_deid: false                    # true: any de-id hit fails the build
    sections: [FINDINGS, IMPRESSION]      # sections kept by harmonisation
    readers:
      - {id: r1, password: "change-me"}
      - {id: r2, password_hash: "scrypt$16384$8$1$..."}
      - {id: r3, email: "reader3@example.org"}   # single sign-on (OIDC via Streamlit's st.login) instead of a password
    coordinators:
      - {id: coordinator, password: "change-me-too"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readerstudy.study.harmonise import DEFAULT_SECTIONS


@dataclass(frozen=True)
class AccountSpec:
    account_id: str
    role: str  # "reader" or "coordinator"
    password: str | None = None
    password_hash: str | None = None
    email: str | None = None  # identity for single sign-on (OIDC); matched case-insensitively


@dataclass
class Protocol:
    name: str
    seed: str
    readers: list[AccountSpec]
    criteria: list[str] = field(default_factory=lambda: ["diagnostic clarity"])
    likert_min: int = 1
    likert_max: int = 5
    margin: float = 0.0
    institutions: list[str] = field(default_factory=list)
    strict_deid: bool = False
    sections: list[str] = field(default_factory=lambda: list(DEFAULT_SECTIONS))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reader_ids(self) -> list[str]:
        return [a.account_id for a in self.readers if a.role == "reader"]

    def public_dict(self) -> dict[str, Any]:
        """What is stored in the study row: everything but passwords."""
        return {
            "name": self.name,
            "seed": int(self.seed) if self.seed.lstrip("-").isdigit() else self.seed,
            "criteria": self.criteria,
            "scale": {"likert_min": self.likert_min, "likert_max": self.likert_max},
            "margin": self.margin,
            "institutions": self.institutions,
            "strict_deid": self.strict_deid,
            "sections": self.sections,
            "readers": self.reader_ids,
            "coordinators": [a.account_id for a in self.readers if a.role == "coordinator"],
            "oidc_emails": {a.email.lower(): a.account_id for a in self.readers if a.email},
            **self.extra,
        }


def _accounts(entries: Any, role: str) -> list[AccountSpec]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError(f"protocol '{role}s' must be a list of {{id, password | password_hash | email}}")
    accounts = []
    for entry in entries:
        if not isinstance(entry, dict) or "id" not in entry:
            raise ValueError(f"each {role} needs an 'id': {entry!r}")
        if not entry.get("password") and not entry.get("password_hash") and not entry.get("email"):
            raise ValueError(
                f"{role} {entry['id']!r} needs a 'password', a 'password_hash' or an 'email' (single sign-on)"
            )
        accounts.append(
            AccountSpec(
                str(entry["id"]),
                str(entry.get("role", role)),
                entry.get("password"),
                entry.get("password_hash"),
                str(entry["email"]) if entry.get("email") else None,
            )
        )
    return accounts


def protocol_from_dict(data: dict[str, Any]) -> Protocol:
    known = {"name", "seed", "criteria", "scale", "margin", "institutions", "strict_deid", "sections"}
    known |= {"readers", "coordinators"}
    if "seed" not in data:
        raise ValueError("the protocol needs a 'seed' (any string or number)")
    accounts = _accounts(data.get("readers"), "reader") + _accounts(data.get("coordinators"), "coordinator")
    ids = [a.account_id for a in accounts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"account ids must be unique: {ids}")
    if not any(a.role == "reader" for a in accounts):
        raise ValueError("the protocol needs at least one reader")
    bad_roles = {a.role for a in accounts} - {"reader", "coordinator"}
    if bad_roles:
        raise ValueError(f"unknown roles {sorted(bad_roles)}")
    scale = data.get("scale") or {}
    criteria = [str(c) for c in (data.get("criteria") or ["diagnostic clarity"])]
    if len(set(criteria)) != len(criteria):
        raise ValueError(f"criteria must be unique: {criteria}")
    return Protocol(
        name=str(data.get("name", "Reader study")),
        seed=str(data["seed"]),
        readers=accounts,
        criteria=criteria,
        likert_min=int(scale.get("likert_min", 1)),
        likert_max=int(scale.get("likert_max", 5)),
        margin=float(data.get("margin", 0.0)),
        institutions=[str(i) for i in data.get("institutions") or []],
        strict_deid=bool(data.get("strict_deid", False)),
        sections=[str(s).upper() for s in data.get("sections") or DEFAULT_SECTIONS],
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_protocol_file(path: str | Path) -> Protocol:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the protocol must be a YAML mapping")
    return protocol_from_dict(data)
