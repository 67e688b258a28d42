"""ORM models of the service (SQLAlchemy 2 typed declarative). One module: the schema at a glance.

The Alembic revisions in `migrations/versions` create exactly these tables; a test compares
them with this metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pgxguard.service.db import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # HMAC-SHA256 of the token under the service secret; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nhs_number: Mapped[str] = mapped_column(String(10), unique=True)
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Result(Base):
    """An uploaded PGx result: the input exactly as received, interpreted in versions."""

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # vcf | outside_calls | fhir_bundle
    filename: Mapped[str] = mapped_column(String(255))
    sample: Mapped[str | None] = mapped_column(String(200))
    build: Mapped[str | None] = mapped_column(String(16))
    input_data: Mapped[bytes] = mapped_column(LargeBinary)
    input_sha256: Mapped[str] = mapped_column(String(64))
    input_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))

    versions: Mapped[list[ResultVersion]] = relationship(
        back_populates="result", order_by="ResultVersion.version")


class ResultVersion(Base):
    """One interpretation of a result; never changed once written (re-interpretation adds one)."""

    __tablename__ = "result_versions"
    __table_args__ = (UniqueConstraint("result_id", "version",
                                       name="uq_result_versions_result_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40))  # interpreted | stored, not interpreted
    kb_version: Mapped[str | None] = mapped_column(String(200))
    # `pgxguard call` JSON (CallResult.to_json) exactly as computed, or None.
    calls_json: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))

    result: Mapped[Result] = relationship(back_populates="versions")
    signoff: Mapped[ResultSignoff | None] = relationship(back_populates="version",
                                                         uselist=False)


class ResultSignoff(Base):
    """A laboratory scientist's authorisation of one result version: until a version has one,
    it is provisional and no medication review or CDS card uses it. Never changed."""

    __tablename__ = "result_signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_version_id: Mapped[int] = mapped_column(ForeignKey("result_versions.id"),
                                                   unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    version: Mapped[ResultVersion] = relationship(back_populates="signoff")


class Order(Base):
    __tablename__ = "test_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    test_code: Mapped[str] = mapped_column(String(32))
    test_name: Mapped[str] = mapped_column(String(200))
    genes: Mapped[str] = mapped_column(String(200))  # comma-separated, from the directory
    reason: Mapped[str | None] = mapped_column(Text)
    trigger_drug: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    result_id: Mapped[int | None] = mapped_column(ForeignKey("results.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    events: Mapped[list[OrderEvent]] = relationship(back_populates="order",
                                                    order_by="OrderEvent.id")


class OrderEvent(Base):
    """One status change of a test order: who, when, from, to."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("test_orders.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="events")
    user: Mapped[User] = relationship()


class MedicationReview(Base):
    """A medication review exactly as shown (ReviewResult JSON text); immutable."""

    __tablename__ = "medication_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    result_version_id: Mapped[int] = mapped_column(ForeignKey("result_versions.id"))
    medicines: Mapped[str] = mapped_column(Text)  # JSON list, as requested
    review_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The patient's PGx profile the review used (`results.profile.Profile.to_json`: per gene
    # the result and version it came from, conflicts); None for a review of one result.
    profile_json: Mapped[str | None] = mapped_column(Text)


class GeneResolution(Base):
    """A laboratory scientist's decision on a gene whose signed-off results disagree: the call
    of `chosen_version_id` stands, over the versions listed in `overrides`. It covers exactly
    those versions: a later signed-off result that disagrees again reopens the conflict."""

    __tablename__ = "gene_resolutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    gene: Mapped[str] = mapped_column(String(32))
    chosen_version_id: Mapped[int] = mapped_column(ForeignKey("result_versions.id"))
    overrides: Mapped[str] = mapped_column(Text)  # comma-separated result_versions ids
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Who did what to which patient's data, through which route, and how it ended.

    No foreign keys: an audit row must survive whatever happens to the rows it names, and
    refused requests (unknown user, unknown patient) are recorded too. Append-only: database
    triggers refuse UPDATE and DELETE (migration 0005), and each row is hash-chained to the
    one before it (`audit/chain.py`).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_at", "patient_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    # Hash chain (audit/chain.py): the previous row's row_hash, and this row's own.
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class LoginThrottle(Base):
    """Sign-in throttle counters (auth/throttle.py), one row per kind and key:

    - `pair` (username, address): failures of one account from one client address; past the
      threshold each attempt waits exponentially longer; cleared by a success or a new password;
    - `address` (address): failures from one address within the window (password spraying);
    - `global`: failures from everywhere within the window;
    - `known` (username, address): the account signed in from that address (`last_at`), so
      the address and global limits do not shut it out.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("kind", "username", "address",
                                       name="uq_login_throttle_key"),
                      Index("ix_login_throttle_last_at", "last_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    username: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CdsJwtReplay(Base):
    """(iss, jti) of CDS client JWTs already accepted, kept until they expire (auth/cds_jwt.py):
    a second use of a token is a replay. `key` is a SHA-256 of iss and jti."""

    __tablename__ = "cds_jwt_replay"
    __table_args__ = (Index("ix_cds_jwt_replay_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


IMMUTABLE = (ResultVersion, ResultSignoff, MedicationReview, AuditEvent, OrderEvent,
             GeneResolution)


def _refuse_update(_mapper: object, _connection: object, target: object) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are immutable")


for _cls in IMMUTABLE:
    event.listen(_cls, "before_update", _refuse_update)
    event.listen(_cls, "before_delete", _refuse_update)


__all__ = [
    "IMMUTABLE",
    "ApiToken",
    "AuditEvent",
    "CdsJwtReplay",
    "GeneResolution",
    "LoginThrottle",
    "MedicationReview",
    "Order",
    "OrderEvent",
    "Patient",
    "Result",
    "ResultVersion",
    "User",
]
