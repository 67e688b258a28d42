"""Sign-in (API tokens) and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from pgxguard.service.auth import service
from pgxguard.service.auth.permissions import Perm
from pgxguard.service.auth.schemas import MeOut, TokenIn, TokenOut, UserIn, UserOut, UserPatch
from pgxguard.service.deps import Ctx, client_address, get_settings, require
from pgxguard.service.ids import RowId
from pgxguard.service.settings import Settings

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=TokenOut)
def issue_token(body: TokenIn, request: Request,
                settings: Annotated[Settings, Depends(get_settings)]) -> TokenOut:
    """Exchange a username and password for an API token (public route; throttled per
    account and address, see docs/service.md)."""
    signed = service.sign_in(request.app.state.sessions, settings, body.username,
                             body.password, address=client_address(request),
                             route="/auth/token", label=body.label)
    return TokenOut(access_token=signed.token, expires_at=signed.expires_at)


@router.delete("/auth/token", status_code=204)
def revoke_token(ctx: Annotated[Ctx, require(Perm.SELF)]) -> Response:
    """Revoke the token this request was made with (sign out)."""
    service.revoke(ctx.session, ctx.api_token)
    ctx.audit("auth.signout", None, detail=f"token {ctx.api_token.id}")
    ctx.commit()
    return Response(status_code=204)


@router.get("/auth/me", response_model=MeOut)
def me(ctx: Annotated[Ctx, require(Perm.SELF)]) -> MeOut:
    return MeOut.of(ctx.user)


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: Annotated[Ctx, require(Perm.USERS_MANAGE)]) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in service.list_users(ctx.session)]


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, ctx: Annotated[Ctx, require(Perm.USERS_MANAGE)]) -> UserOut:
    service.check_username(body.username)
    ctx.end_transaction()  # argon2 runs with no transaction open
    pw_hash = service.prepare_password(body.password, body.username)
    u = service.create_user(ctx.session, body.username, body.password, body.role.value,
                            password_hash=pw_hash)
    ctx.audit("user.create", None, detail=f"user {u.username} ({u.role})")
    ctx.commit()
    return UserOut.model_validate(u)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: RowId, body: UserPatch,
                ctx: Annotated[Ctx, require(Perm.USERS_MANAGE)]) -> UserOut:
    pw_hash = None
    if body.password is not None:
        name = service.get_user(ctx.session, user_id).username
        ctx.end_transaction()  # argon2 runs with no transaction open
        pw_hash = service.prepare_password(body.password, name)
    u = service.update_user(ctx.session, service.get_user(ctx.session, user_id),
                            role=body.role.value if body.role else None, active=body.active,
                            acting_user_id=ctx.user.id, password_hash=pw_hash)
    changed = [k for k, v in body.model_dump().items() if v is not None]
    ctx.audit("user.update", None, detail=f"user {u.username}: {', '.join(changed)}")
    ctx.commit()
    return UserOut.model_validate(u)
