"""Resumable (chunked) uploads: bytes go to a spool file on disk, chunk by chunk; the last
chunk hands the whole file to `services.asset_upload`. Nothing is held in memory whole.

The session row is locked while a chunk is written, so two writers never interleave; a
spool file may hold bytes past `received` (a crash between write and commit), and the
next chunk truncates them before it writes.
"""

from __future__ import annotations

import inspect
import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import OperationalError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.policy import Level
from assets import services
from assets.models import Folder, UploadSession
from dam.services import audit_record

log = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024  # what clients are told to send, and the most one PUT may carry
READ_BYTES = 256 * 1024  # how much of the request body is read at a time
STALE_HOURS = 24
OPEN_SESSIONS_MAX = 100  # per user: a bound on spool files nobody finishes


class OffsetMismatch(services.Conflict):
    """The client's offset is not the server's; the body tells it where to resume."""

    code = "offset_mismatch"

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(message, field="offset")
        self.offset = offset


class TooManySessions(services.ServiceError):
    status = 429
    code = "throttled"


def spool_dir() -> Path:
    path = Path(getattr(settings, "DAM_UPLOAD_SPOOL", None) or Path(settings.VAR_DIR) / "uploads")
    path.mkdir(parents=True, exist_ok=True)
    return path


def spool_path(session: UploadSession) -> Path:
    return spool_dir() / f"{session.pk}.part"


def _spool_remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _clean_filename(filename) -> str:
    name = os.path.basename(str(filename or "").replace("\x00", "").replace("\\", "/")).strip()
    if not name:
        raise services.ValidationFailed("Give the file's name.", field="filename")
    return name[:255]


def upload_session_create(
    *,
    actor,
    folder: Folder,
    filename: str,
    size: int,
    preset: str | None = None,
    public_id: str | None = None,
    display_name: str | None = None,
    tags=None,
    metadata=None,
    context=None,
) -> UploadSession:
    """Start a resumable upload of `size` bytes into `folder` (contribute level).

    Metadata and context are checked now, so a refusal comes before any bytes are sent
    (and again when the last chunk arrives, against the rules of that moment)."""
    if policy.access_for(actor).folder_level(folder) < Level.CONTRIBUTE:
        raise services.NotAllowed(f"You need contribute access to upload in “{folder.name}”.")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise services.ValidationFailed("The file is empty.", field="size")
    if size > settings.DAM_MAX_UPLOAD_BYTES:
        raise services.TooLarge(
            f"The file is larger than the {settings.DAM_MAX_UPLOAD_BYTES:,}-byte limit."
        )
    filename = _clean_filename(filename)
    # PostgreSQL's JSON and text refuse NUL: bad input is a field error, not a 500.
    for field, value in (
        ("preset", preset),
        ("public_id", public_id),
        ("display_name", display_name),
        ("tags", tags),
    ):
        if value and "\x00" in (value if isinstance(value, str) else "".join(map(str, value))):
            raise services.ValidationFailed(
                "This value cannot contain NUL characters.", field=field
            )
    fields: dict = {}
    if preset:
        if _preset_by_name(preset) is None:
            raise services.ValidationFailed("No such upload preset.", field="preset")
        fields["preset"] = preset
    if public_id:
        fields["public_id"] = str(public_id)
    if display_name:
        fields["display_name"] = str(display_name)
    if tags:
        fields["tags"] = tags if isinstance(tags, str) else [str(t) for t in tags]
    if context is not None:
        fields["context"] = services.clean_context(context)
    if metadata not in (None, {}):
        if not isinstance(metadata, dict):
            raise services.ValidationFailed(
                "Metadata is an object keyed by field external ID.", field="metadata"
            )
        fields["metadata"] = metadata
    overwriting = bool(preset) and _preset_by_name(preset).overwrite
    if overwriting:
        # It may become a new version of an existing asset, whose values are then edited
        # at completion: only the shape can be checked now.
        services.metadata_shape_check(metadata)
    else:
        services.upload_metadata_check(actor=actor, folder=folder, metadata=metadata)
    open_sessions = UploadSession.objects.filter(user=actor, completed_at__isnull=True).count()
    if open_sessions >= OPEN_SESSIONS_MAX:
        raise TooManySessions(
            f"You have {open_sessions} unfinished uploads; finish or cancel some first."
        )
    with transaction.atomic():
        session = UploadSession.objects.create(
            user=actor, folder=folder, filename=filename, size=size, fields=fields
        )
        spool_path(session).touch()
        audit_record(
            actor=actor,
            verb="upload.start",
            obj=folder,
            data={"session": str(session.pk), "filename": filename, "size": size},
        )
    return session


def upload_session_get_or_404(*, actor, session_id) -> UploadSession:
    """Only the owner sees a session; everyone else gets the same 404 as for a missing one."""
    session = (
        UploadSession.objects.select_related("folder", "asset")
        .filter(pk=session_id, user=actor)
        .first()
    )
    if session is None:
        raise Http404("No such upload.")
    return session


def _lock(session: UploadSession) -> UploadSession:
    try:
        with transaction.atomic():
            locked = (
                UploadSession.objects.select_for_update(nowait=True, of=("self",))
                .select_related("folder", "asset")
                .filter(pk=session.pk)
                .first()
            )
    except OperationalError:
        raise OffsetMismatch(
            "Another chunk of this upload is being written; retry shortly.",
            offset=session.received,
        ) from None
    if locked is None:
        raise Http404("No such upload.")
    return locked


def upload_session_append(
    *, actor, session: UploadSession, offset: int, stream, length: int
) -> UploadSession:
    """Write `length` bytes from `stream` at `offset` (which must be the current one).

    A body cut short (a dropped connection) keeps what arrived: the client asks for the
    offset and resumes. When the file is whole, it becomes an asset (`session.asset`);
    a file the upload rules refuse ends the session and raises their error.
    """
    with transaction.atomic():
        session = _lock(session)
        if session.completed_at is not None:
            return session  # a retry of the last chunk whose answer was lost
        path = spool_path(session)
        on_disk = path.stat().st_size if path.exists() else 0
        if on_disk < session.received:  # the spool lost bytes (a wiped disk): resend them
            log.warning(
                "upload %s: spool has %s of %s bytes", session.pk, on_disk, session.received
            )
            session.received = on_disk
            session.save(update_fields=["received", "updated_at"])
        # Errors are raised after the commit: a corrected offset above must stay corrected.
        error = _append_refusal(actor, session, offset, length)
        if error is None:
            written = _write_chunk(path, session.received, stream, length)
            session.received += written
            session.save(update_fields=["received", "updated_at"])
            if session.received == session.size:
                try:
                    with transaction.atomic():
                        _complete(actor, session, path)
                except services.ServiceError as exc:
                    error = exc  # the whole file was refused: the session ends
                    session.delete()
                transaction.on_commit(lambda: _spool_remove(path))
    if error is not None:
        raise error
    return session


def _append_refusal(actor, session, offset: int, length: int) -> services.ServiceError | None:
    if offset != session.received:
        return OffsetMismatch(
            f"This upload continues at byte {session.received:,}, not {offset:,}.",
            offset=session.received,
        )
    if length < 0 or length > CHUNK_BYTES:
        return services.TooLarge(f"A chunk has at most {CHUNK_BYTES:,} bytes.")
    if offset + length > session.size:
        return services.ValidationFailed(
            f"The chunk runs past the file's declared size ({session.size:,} bytes).",
            field="body",
        )
    if policy.access_for(actor).folder_level(session.folder) < Level.CONTRIBUTE:
        return services.NotAllowed(
            f"You need contribute access to upload in “{session.folder.name}”."
        )
    return None


def _write_chunk(path: Path, at: int, stream, length: int) -> int:
    """Append up to `length` bytes read from `stream` at byte `at`; returns bytes written."""
    written = 0
    with open(path, "r+b" if path.exists() else "w+b") as out:
        out.truncate(at)  # drop anything a crashed writer left past the committed offset
        out.seek(at)
        while written < length:
            try:
                data = stream.read(min(READ_BYTES, length - written))
            except Exception as exc:  # the client went away mid-body: keep what arrived
                log.info("upload chunk cut short after %s of %s bytes: %r", written, length, exc)
                break
            if not data:
                break
            out.write(data)
            written += len(data)
        out.flush()
    return written


def _preset_by_name(name: str):
    from assets.models import UploadPreset

    if "\x00" in name:
        return None
    return UploadPreset.objects.filter(name=name).first()


def _complete(actor, session: UploadSession, path: Path) -> None:
    fields = dict(session.fields or {})
    kwargs = {
        "actor": actor,
        "filename": session.filename,
        "folder": session.folder,
        "public_id": fields.get("public_id"),
        "display_name": fields.get("display_name"),
        "tags": fields.get("tags"),
        "metadata": fields.get("metadata"),
        "context": fields.get("context"),
    }
    if fields.get("preset"):
        preset = _preset_by_name(fields["preset"])
        if preset is None:
            raise services.ValidationFailed(
                f"The upload preset “{fields['preset']}” was deleted meanwhile.", field="preset"
            )
        kwargs["preset"] = preset
    # Pass only what asset_upload takes (its signature grows as features land).
    accepted = inspect.signature(services.asset_upload).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted and (v is not None or k == "folder")}
    with open(path, "rb") as fh:
        asset = services.asset_upload(file=File(fh, name=session.filename), **kwargs)
    session.asset = asset
    session.completed_at = timezone.now()
    session.save(update_fields=["asset", "completed_at", "updated_at"])


def upload_session_cancel(*, actor, session: UploadSession) -> None:
    """Forget the upload and its bytes (a finished upload's asset stays)."""
    with transaction.atomic():
        session = _lock(session)
        path = spool_path(session)
        audit_record(
            actor=actor,
            verb="upload.cancel",
            obj=session.folder,
            data={"session": str(session.pk), "filename": session.filename},
        )
        session.delete()
        transaction.on_commit(lambda: _spool_remove(path))


def upload_sessions_sweep(*, older_than_hours: float = STALE_HOURS, batch: int = 500, now=None):
    """Remove sessions idle for `older_than_hours` (finished or not) and their spool files,
    then spool files no session owns that are as old. Returns counts."""
    cutoff = (now or timezone.now()) - timedelta(hours=older_than_hours)
    counts = {"sessions": 0, "files": 0}
    while True:
        with transaction.atomic():
            stale = list(
                UploadSession.objects.select_for_update(skip_locked=True)
                .filter(updated_at__lt=cutoff)
                .order_by("updated_at")
                .values_list("pk", flat=True)[:batch]
            )
            if not stale:
                break
            UploadSession.objects.filter(pk__in=stale).delete()
        for pk in stale:
            path = spool_dir() / f"{pk}.part"
            if path.exists():
                _spool_remove(path)
                counts["files"] += 1
        counts["sessions"] += len(stale)
    cutoff_ts = cutoff.timestamp()
    for path in spool_dir().glob("*.part"):
        try:
            if path.stat().st_mtime >= cutoff_ts:
                continue
        except FileNotFoundError:
            continue
        try:
            session_id = uuid.UUID(path.stem)
        except ValueError:
            continue  # not ours: never delete what we cannot name
        if not UploadSession.objects.filter(pk=session_id).exists():
            _spool_remove(path)
            counts["files"] += 1
    log.info(
        "upload sweep: removed %s stale sessions and %s spool files",
        counts["sessions"],
        counts["files"],
    )
    return counts
