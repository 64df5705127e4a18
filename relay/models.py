"""The JSON bodies of the relay API (v1), as pydantic models: they validate requests
and are the request and response schemas published at /openapi.json."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from relay.envelope_header import ID_PATTERN

Id = Annotated[str, Field(pattern=ID_PATTERN, examples=["0b6f2c3e-9a51-4c1e-8d6a-2f7c5b9e1a40"])]
# Base64 (standard or URL-safe alphabet) text: keys, proofs, sealed packages.
Base64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/_-]+={0,2}$", max_length=4096)]
Package = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/_-]+={0,2}$", max_length=262_144)]
Cursor = Annotated[int, Field(ge=0, le=2**62)]
Seconds = Annotated[float, Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    """Every refusal: a code to branch on and plain words to show. A few codes add a
    field: `expected` (sequence), `missing` (missing_chunks)."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class NewSpace(Strict):
    space_id: Id
    device_id: Id


class Token(BaseModel):
    token: str


class DeviceOut(BaseModel):
    device_id: str
    enrolled_at: str
    last_seen_at: str | None
    revoked_at: str | None


class Devices(BaseModel):
    devices: list[DeviceOut]


class NewInvite(Strict):
    invite_id: Id
    expires_in: Annotated[int, Field(ge=1, le=900, description="seconds, at most 900")]


class InviteCreated(BaseModel):
    invite_id: str
    expires_in: int


# The new desk's name, sealed under a key only holders of the enrollment code derive.
SealedName = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/_-]+={0,2}$", max_length=1024)]


class Claim(Strict):
    device_id: Id
    public_key: Base64
    proof: Base64
    sealed_name: SealedName | None = Field(
        default=None, description="the new desk's name, sealed; the relay cannot read it"
    )


class Claimed(BaseModel):
    token: str
    space_id: str


class InviteState(BaseModel):
    state: Literal["waiting", "claimed"]
    device_id: str | None
    public_key: str | None
    proof: str | None
    sealed_name: str | None = None


class PackageIn(Strict):
    package: Package


class PackageOut(BaseModel):
    package: str


class Pushed(BaseModel):
    cursor: int


class BatchOut(BaseModel):
    cursor: int
    device_id: str
    seq: int
    batch_id: str
    envelope: str = Field(description="the envelope bytes, base64")


class BatchPage(BaseModel):
    batches: list[BatchOut]
    more: bool = Field(description="more batches wait after the last one here")
    head: int = Field(description="the highest cursor of the space")


class NewSnapshot(Strict):
    cursor: Cursor
    chunks: Annotated[int, Field(ge=1, le=1_000_000)]
    size: Annotated[int, Field(ge=0, le=2**62)]


class SnapshotCreated(BaseModel):
    snapshot_id: str


class Snapshot(BaseModel):
    snapshot_id: str
    cursor: int
    chunks: int
    size: int
    device_id: str
    created_at: str


class DigestIn(Strict):
    cursor: Cursor
    digest: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16,256}$")]


class DigestResult(BaseModel):
    status: Literal["recorded", "match", "mismatch"]


class SenderState(BaseModel):
    holder: str | None
    expires_in: float


class LeaseClaim(Strict):
    lease_seconds: Annotated[int, Field(ge=1, le=600)]
    take_over: bool = False


class LeaseResult(BaseModel):
    granted: bool
    holder: str | None
    expires_in: float
    wait_seconds: float = Field(
        description="granted: seconds before the caller may send (what remained of the "
        "old holder's lease after a take-over, else 0); refused: seconds until the "
        "current lease runs out"
    )


class KeyPackageOut(BaseModel):
    key_id: str
    from_device: str
    package: str


class KeyPackages(BaseModel):
    packages: list[KeyPackageOut]
