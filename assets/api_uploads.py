"""Resumable uploads: create a session, PUT raw chunks at `Upload-Offset`, finish as an asset.

POST   /uploads       {filename, size, folder, preset?, public_id?, display_name?, tags?,
                       metadata?, context?}
GET    /uploads/{id}  -> {id, offset, size}: where to resume
PUT    /uploads/{id}  raw bytes, header Upload-Offset: N (409 with the offset otherwise)
DELETE /uploads/{id}  cancel
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse, JsonResponse
from ninja import Router, Schema, Status

from accounts import policy
from assets import uploads
from assets.schemas import AssetOut, asset_out
from dam.errors import error_response

router = Router(tags=["uploads"])


class UploadIn(Schema):
    filename: str
    size: int
    folder: int
    preset: str | None = None
    public_id: str | None = None
    display_name: str | None = None
    tags: str | list[str] | None = None
    metadata: dict | None = None
    context: dict | None = None


class UploadOut(Schema):
    id: UUID
    offset: int
    size: int
    chunk_size: int
    asset: AssetOut | None = None


def _out(session, request) -> dict:
    return {
        "id": session.pk,
        "offset": session.received,
        "size": session.size,
        "chunk_size": uploads.CHUNK_BYTES,
        "asset": asset_out(session.asset, request) if session.asset_id else None,
    }


def _headers(response, session):
    response["Upload-Offset"] = str(session.received)
    response["Cache-Control"] = "no-store"
    return response


@router.post("/uploads", response={201: UploadOut}, summary="Start a resumable upload")
def uploads_create(request, payload: UploadIn):
    user = request.auth
    folder = policy.get_folder_or_404(user, payload.folder)
    session = uploads.upload_session_create(
        actor=user,
        folder=folder,
        filename=payload.filename,
        size=payload.size,
        preset=payload.preset,
        public_id=payload.public_id,
        display_name=payload.display_name,
        tags=payload.tags,
        metadata=payload.metadata,
        context=payload.context,
    )
    return Status(201, _out(session, request))


@router.get("/uploads/{session_id}", response=UploadOut, summary="Where to resume")
def uploads_get(request, session_id: UUID, response: HttpResponse):
    session = uploads.upload_session_get_or_404(actor=request.auth, session_id=session_id)
    _headers(response, session)
    return _out(session, request)


@router.put(
    "/uploads/{session_id}", response={200: UploadOut, 201: UploadOut}, summary="Send a chunk"
)
def uploads_append(request, session_id: UUID, response: HttpResponse):
    """The body is the chunk itself (any content type), read from the stream in pieces."""
    session = uploads.upload_session_get_or_404(actor=request.auth, session_id=session_id)
    try:
        offset = int(request.headers.get("Upload-Offset", ""))
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return error_response(
            422,
            "Send the chunk's position as the Upload-Offset header (a byte count).",
            errors={"Upload-Offset": ["A non-negative integer is required."]},
        )
    try:
        session = uploads.upload_session_append(
            actor=request.auth, session=session, offset=offset, stream=request, length=length
        )
    except uploads.OffsetMismatch as exc:
        body = {"detail": exc.message, "code": exc.code, "offset": exc.offset}
        shaped = JsonResponse(body, status=409)
        shaped["Upload-Offset"] = str(exc.offset)
        return shaped
    _headers(response, session)
    return Status(201 if session.asset_id else 200, _out(session, request))


@router.delete("/uploads/{session_id}", response={204: None}, summary="Cancel an upload")
def uploads_cancel(request, session_id: UUID):
    session = uploads.upload_session_get_or_404(actor=request.auth, session_id=session_id)
    uploads.upload_session_cancel(actor=request.auth, session=session)
    return Status(204, None)
