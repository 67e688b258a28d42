from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pgxguard.service.auth.permissions import ROLE_PERMISSIONS, Role
from pgxguard.service.auth.security import MIN_PASSWORD_LENGTH
from pgxguard.service.models import User


class TokenIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    label: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Role


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: str
    active: bool
    created_at: datetime


class MeOut(UserOut):
    permissions: list[str]

    @classmethod
    def of(cls, user: User) -> MeOut:
        perms = sorted(p.value for p in ROLE_PERMISSIONS.get(Role(user.role), frozenset()))
        return cls(id=user.id, username=user.username, role=user.role, active=user.active,
                   created_at=user.created_at, permissions=perms)
