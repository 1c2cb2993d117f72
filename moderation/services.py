"""Moderation decisions: human ones (approve, reject, override) and the automatic checks.

Every decision is a `Decision` row (who or what, when, why, score) and an audit event;
the asset's `moderation_status` follows the latest final decision. A rejected uploader is
told in the app and by email (after the commit).
"""

from __future__ import annotations

import logging

from django.db import transaction

from accounts import policy
from assets.models import Asset, ModerationMode, ModerationStatus
from dam.errors import Conflict, NotAllowed, ServiceError, ValidationFailed
from dam.services import audit_record
from moderation import checks
from moderation.models import Check, Decision, DecisionKind, Outcome

log = logging.getLogger(__name__)

REASON_MAX = 2000
BULK_MAX = 500
STATUS_OF = {Outcome.APPROVE: ModerationStatus.APPROVED, Outcome.REJECT: ModerationStatus.REJECTED}


def _clean_reason(reason) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise ValidationFailed("The reason is text.", field="reason")
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise ValidationFailed(f"The reason has at most {REASON_MAX} characters.", field="reason")
    if "\x00" in reason:
        raise ValidationFailed("The reason cannot contain NUL characters.", field="reason")
    return reason


def latest_decision(asset) -> Decision | None:
    return Decision.objects.filter(asset=asset).order_by("-created_at", "-id").first()


def _set_status(asset: Asset, status: str) -> None:
    Asset.objects.filter(pk=asset.pk).update(moderation_status=status)
    asset.moderation_status = status


def _notify_rejected(decision: Decision) -> None:
    from moderation.tasks import notify_rejection

    transaction.on_commit(lambda: notify_rejection.delay(decision.pk), robust=True)


# -- people ---------------------------------------------------------------------------------
def decide(*, actor, asset: Asset, decision: str, reason="", version=None) -> Decision:
    """Approve or reject one asset (an override when the last decision was automatic, or
    when a human changes their mind). `version`: the version the moderator looked at; if
    a newer one arrived meanwhile, nothing is decided (409)."""
    if decision not in (Outcome.APPROVE, Outcome.REJECT):
        raise ValidationFailed("The decision is approve or reject.", field="decision")
    reason = _clean_reason(reason)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValidationFailed("version is a version number.", field="version")
    if not policy.can_moderate_asset(actor, asset):
        raise NotAllowed("You cannot moderate this asset.")
    with transaction.atomic():
        asset = Asset.objects.select_for_update().get(pk=asset.pk)
        if asset.moderation_status == ModerationStatus.NOT_MODERATED:
            raise Conflict(
                f"“{asset.display_name}” is not moderated: its upload preset has no review."
            )
        if version is not None and version != asset.version:
            raise Conflict(
                f"“{asset.display_name}” has a newer version ({asset.version}) than the one "
                f"you reviewed ({version}); look at it again."
            )
        previous = latest_decision(asset)
        before = asset.moderation_status
        row = Decision.objects.create(
            asset=asset,
            version=asset.version,
            kind=DecisionKind.MANUAL,
            outcome=decision,
            reason=reason,
            decided_by=actor,
            overrides=previous if previous and previous.outcome != decision else None,
        )
        _set_status(asset, STATUS_OF[decision])
        audit_record(
            actor=actor,
            verb=f"asset.moderation.{decision}",
            obj=asset,
            data={"before": before, "reason": reason, "overrides": row.overrides_id},
        )
        if decision == Outcome.REJECT and before != ModerationStatus.REJECTED:
            _notify_rejected(row)
    return row


def decide_many(*, actor, ids, decision: str, reason="", versions=None) -> dict:
    """One decision on many assets, each checked on its own; invisible or missing ids
    fail alike ("Not found."). `versions`: {asset id: the version the moderator saw}."""
    from django.http import Http404

    if decision not in (Outcome.APPROVE, Outcome.REJECT):
        raise ValidationFailed("The decision is approve or reject.", field="decision")
    reason = _clean_reason(reason)
    if not isinstance(ids, (list, tuple)) or not ids:
        raise ValidationFailed("Choose at least one asset.", field="ids")
    if len(ids) > BULK_MAX:
        raise ValidationFailed(f"At most {BULK_MAX} assets at a time.", field="ids")
    done: list[int] = []
    failed: dict[str, str] = {}
    for asset_id in dict.fromkeys(ids):
        try:
            asset = policy.get_asset_or_404(actor, asset_id)
            seen = (versions or {}).get(asset.pk)
            decide(actor=actor, asset=asset, decision=decision, reason=reason, version=seen)
            done.append(asset.pk)
        except (Http404, Asset.DoesNotExist):
            failed[str(asset_id)] = "Not found."
        except policy.PermissionDeniedForLevel as exc:
            failed[str(asset_id)] = str(exc)
        except ServiceError as exc:  # not allowed, not moderated, a newer version
            failed[str(asset_id)] = exc.message
    return {"done": done, "failed": failed}


# -- automatic checks -------------------------------------------------------------------------
def _check_image(asset: Asset):
    """The current version's preview rendition as a PIL image (None if there is none)."""
    from PIL import Image

    from assets.models import Rendition
    from dam.storage import open_blob

    rendition = Rendition.objects.filter(
        version__asset=asset, version__number=asset.version, spec="preview"
    ).first()
    if rendition is None:
        return None
    with open_blob(rendition.file_name) as fh:
        image = Image.open(fh)
        image.load()
    return image


def run_checks(asset: Asset, preset) -> list[checks.Result]:
    """Run the preset's checks on the asset (no database writes)."""
    settings = preset.check_settings or {}
    wanted = [c for c in Check.values if c in (preset.auto_checks or [])]
    image = _check_image(asset) if {Check.CONTENT_SAFETY, Check.BLUR} & set(wanted) else None
    results = []
    for name in wanted:
        s = checks.settings_for(settings, name)
        if name == Check.CONTENT_SAFETY:
            results.append(checks.content_safety(image, s))
        elif name == Check.MIN_SIZE:
            results.append(checks.min_size(asset.width, asset.height, s))
        elif name == Check.BLUR:
            results.append(checks.blur(image, s))
        elif name == Check.FILE_SIZE:
            results.append(checks.file_size(asset.bytes, s))
        elif name == Check.NEAR_DUPLICATES:
            results.append(checks.near_duplicates(asset, s))
    return results


def auto_moderate(*, asset_id: int, version: int) -> str | None:
    """After processing: run the preset's automatic checks on a pending asset and record
    each result; a clear verdict approves or rejects, anything unsure stays pending. A
    human decision already made, or a newer version, wins: nothing is overwritten."""
    asset = Asset.objects.select_related("preset").filter(pk=asset_id).first()
    if asset is None or asset.version != version or asset.preset is None:
        return None
    if asset.preset.moderation != ModerationMode.AUTO:
        return None
    if asset.moderation_status != ModerationStatus.PENDING:
        return None
    results = run_checks(asset, asset.preset)
    if not results:
        return None
    verdict = checks.combine(results)
    # The check that decided is recorded last, so it is the asset's latest decision.
    results.sort(key=lambda r: r.outcome == verdict)
    with transaction.atomic():
        locked = Asset.objects.select_for_update().get(pk=asset.pk)
        if locked.version != version or locked.moderation_status != ModerationStatus.PENDING:
            return None  # a human (or a new version) got there first
        if Decision.objects.filter(asset=locked, version=version, kind=DecisionKind.AUTO).exists():
            return None  # this version was checked already (a redelivered task)
        rows = [
            Decision.objects.create(
                asset=locked,
                version=version,
                kind=DecisionKind.AUTO,
                check_name=r.check,
                outcome=r.outcome,
                score=r.score,
                reason=r.reason,
                details=r.details,
            )
            for r in results
        ]
        if verdict in STATUS_OF:
            _set_status(locked, STATUS_OF[verdict])
        audit_record(
            actor=None,
            verb="asset.moderation.auto",
            obj=locked,
            data={"verdict": verdict, "checks": {r.check: r.outcome for r in results}},
        )
        if verdict == Outcome.REJECT:
            _notify_rejected(rows[-1])
    return verdict


def notify_rejection(*, decision_id: int) -> int:
    """Tell the uploader their asset was rejected: in the app and by email."""
    from dam.services import notify

    found = _rejection(decision_id)
    if found is None:
        return 0
    decision, uploader, message, link = found
    _, created = notify(
        user=uploader,
        kind="asset.rejected",
        message=message,
        link=link,
        key=f"rejection:{decision.pk}",
    )
    if created:  # the email has its own task: a failed send is retried alone
        from moderation.tasks import email_rejection

        transaction.on_commit(lambda: email_rejection.delay(decision.pk), robust=True)
    return 1


def _rejection(decision_id: int):
    """(decision, uploader, message, link) if the uploader should still hear of it: the
    decision is the asset's latest and the asset is still rejected and live; the
    uploader is whoever uploaded the judged version, active, and not the decider."""
    from django.urls import reverse

    from assets.models import AssetVersion

    decision = Decision.objects.select_related("asset", "decided_by").filter(pk=decision_id).first()
    if decision is None:
        return None
    asset = decision.asset
    if asset.deleted_at is not None or asset.moderation_status != ModerationStatus.REJECTED:
        return None
    latest = latest_decision(asset)
    if latest is None or latest.pk != decision.pk:
        return None  # someone decided again since
    judged = (
        AssetVersion.objects.select_related("created_by")
        .filter(asset=asset, number=decision.version)
        .first()
    )
    uploader = judged.created_by if judged else asset.created_by
    if not uploader.is_active or uploader.pk == decision.decided_by_id:
        return None
    why = decision.reason or "No reason was given."
    name = " ".join(asset.display_name.split())  # no line breaks in a mail subject
    message = f"“{name}” was rejected ({decision.decided_by_label}): {why}"
    return decision, uploader, message, reverse("assets:detail", args=[asset.pk])


def email_rejection(*, decision_id: int) -> int:
    from django.conf import settings
    from django.core.mail import send_mail

    found = _rejection(decision_id)
    if found is None:
        return 0
    decision, uploader, message, link = found
    name = " ".join(decision.asset.display_name.split())
    send_mail(
        f"“{name}” was rejected"[:200],
        f"Hello {uploader.get_short_name()},\n\n{message}\n\n"
        f"Open it: {settings.DAM_BASE_URL.rstrip('/')}{link}\n",
        settings.DEFAULT_FROM_EMAIL,
        [uploader.email],
    )
    return 1
