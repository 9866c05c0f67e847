"""The policy: what the bot may propose. Validated with pydantic; unknown keys are kept for later stages."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from remediator.errors import InputError


class HostService(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = None
    hostname: str | None = None
    port: int = Field(gt=0, lt=65536)

    @model_validator(mode="after")
    def _one_target(self) -> HostService:
        if not self.address and not self.hostname:
            raise ValueError("needs address or hostname")
        return self


class Models(BaseModel):
    preferred: list[str] = []


class Memory(BaseModel):
    factor: float = Field(default=1.5, gt=1.0)
    max: str = "8Gi"
    round_to: str = "64Mi"


class Policy(BaseModel):
    model_config = ConfigDict(extra="allow")
    host_services: dict[str, HostService] = {}
    models: Models = Models()
    memory: Memory = Memory()


def default_policy_path() -> Path:
    return Path(str(resources.files("remediator") / "policies" / "default.yaml"))


def load_policy(path: Path | None) -> Policy:
    """Read a policy file (the packaged default when None). Errors name the file and the key."""
    p = path or default_policy_path()
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise InputError(f"{p}: cannot read policy: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise InputError(f"{p}: malformed YAML: {getattr(e, 'problem', e)}") from e
    if not isinstance(data, dict):
        raise InputError(f"{p}: a policy is a mapping of keys")
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise InputError(f"{p}: {where}: {err['msg']}") from e
