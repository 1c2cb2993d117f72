"""Automation rules (Settings → Automation): a trigger and actions, run by Celery beat.

Triggers: a date metadata field reaches today (or N days ahead; dates already past
count too, so a new or resumed rule catches up); an asset is in a folder or below it; an
upload since the rule was made matches a search expression (judged while it is younger
than UPLOAD_GRACE, so processing and metadata can settle).

Sweeps are safe to repeat and to run twice at once:
- a run is unique per rule and period (the day for date rules, a SLOT_MINUTES slot for
  the others), so two beat processes or a restart claim a window once;
- a session advisory lock per rule keeps two runs of one rule (a manual one, a slow
  one) from walking side by side; the loser is recorded as skipped;
- each asset a rule acts on gets an AutomationRunItem unique on (rule, asset,
  occurrence), inserted in the same transaction as the actions: a rule acts on an asset
  at most once per trigger occurrence (the date value for date rules, once ever for the
  others), whoever runs it.

Assets are read in id order, BATCH at a time (keyset: `id > last`), already handled ones
excluded by the unique index; each asset is acted on in its own short transaction, so a
sweep never holds many row locks. Actions go through the asset and collection services
with the authority of the rule's `run_as` admin (the last admin to save it), so every
change is checked and audited as usual, plus one `automation.act` event naming the rule.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.policy import Level
from assets.models import (
    AccessMode,
    Asset,
    AutomationRule,
    AutomationRun,
    AutomationRunItem,
    AutomationRunStatus,
    AutomationTrigger,
    Collection,
    Folder,
)
from dam.errors import Conflict, NotAllowed, ServiceError, ValidationFailed
from dam.services import audit_record
from dam.text import same_name

log = logging.getLogger(__name__)

BATCH = 1000
SLOT_MINUTES = 10  # how often beat sweeps folder and upload rules (dam/celery.py)
UPLOAD_GRACE = timedelta(hours=24)
DAYS_AHEAD_MAX = 3650
NAME_MAX = 200
TAGS_MAX = 50
MESSAGE_MAX = 2000
EMAIL_LIST_MAX = 50  # assets named in one email; the rest are counted
LOCK_NAMESPACE = 0x4A70  # pg_try_advisory_lock(LOCK_NAMESPACE, rule id)

# The order actions run in, whatever order they were given: trash last (it ends edits),
# the email after the run (one message per person, not per asset).
ACTION_TYPES = (
    "restrict",
    "unpublish",
    "set_metadata",
    "add_tags",
    "remove_tags",
    "move",
    "trash",
    "email",
)
ACTION_LABELS = {
    "restrict": "Restrict access",
    "unpublish": "Remove from published collections",
    "set_metadata": "Set metadata",
    "add_tags": "Add tags",
    "remove_tags": "Remove tags",
    "move": "Move to a folder",
    "trash": "Move to the trash",
    "email": "Email",
}
EMAIL_TO = ("uploader", "group")


# == rules: create, edit, pause, delete ===============================================
def _require_manager(actor) -> None:
    if not policy.can_manage_automation(actor):
        raise NotAllowed("Only admins manage automation rules.")


def _clean_name(name, exclude_pk: int | None) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationFailed("Give the rule a name.", field="name")
    if "\x00" in name:
        raise ValidationFailed("Names cannot contain NUL characters.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"Names have at most {NAME_MAX} characters.", field="name")
    taken = AutomationRule.objects.filter(same_name("name", name)).exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(f"There is already a rule named “{name}”.", field="name")
    return name


def _clean_folder(value, field: str) -> Folder:
    """A live folder, given as a Folder or its id."""
    if isinstance(value, Folder):
        value = value.pk
    if value in (None, ""):
        raise ValidationFailed("Choose a folder.", field=field)
    if isinstance(value, bool) or not policy.is_valid_id(value):
        raise ValidationFailed("A folder is given by its id.", field=field)
    folder = Folder.objects.filter(pk=int(value)).first()
    if folder is None:
        raise ValidationFailed(f"There is no folder with id {int(value)}.", field=field)
    return folder


def _date_field(external_id, schema=None):
    """The live date field with this external ID; ValidationFailed naming the mistake."""
    from metadata import selectors as metadata_selectors

    key = str(external_id or "").strip()
    if not key:
        raise ValidationFailed("Choose a date field.", field="date_field")
    schema = schema or metadata_selectors.schema_get()
    f = schema.by_id.get(key) or next(
        (x for x in schema.fields if x.external_id.lower() == key.lower()), None
    )
    if f is None:
        shown = key.replace("\x00", "")[:100]
        raise ValidationFailed(f"There is no metadata field “{shown}”.", field="date_field")
    if f.type != "date":
        raise ValidationFailed(f"“{f.label}” is not a date field.", field="date_field")
    return f


def _clean_days(value) -> int:
    try:
        days = int(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        raise ValidationFailed("Days ahead is a whole number.", field="days_ahead") from None
    if isinstance(value, bool) or not 0 <= days <= DAYS_AHEAD_MAX:
        raise ValidationFailed(
            f"Days ahead is between 0 and {DAYS_AHEAD_MAX:,}.", field="days_ahead"
        )
    return days


def _clean_expression(expression) -> str:
    from assets.search import expression_filter
    from assets.search_query import QuerySyntaxError

    text = str(expression or "").strip()
    if not text:
        raise ValidationFailed("Enter a search expression.", field="expression")
    try:
        if expression_filter(text) is None:
            raise ValidationFailed("Enter a search expression.", field="expression")
    except QuerySyntaxError as exc:
        raise ValidationFailed(str(exc), field="expression") from None
    return text


def _clean_tags(value, field: str) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise ValidationFailed("Tags are a list of words.", field=field)
    tags: list[str] = []
    for raw in value:
        tag = " ".join(str(raw).split())
        if "\x00" in tag or len(tag) > 100:
            raise ValidationFailed("Tags have at most 100 characters.", field=field)
        if tag and tag not in tags:
            tags.append(tag)
    if not tags:
        raise ValidationFailed("Enter at least one tag.", field=field)
    if len(tags) > TAGS_MAX:
        raise ValidationFailed(f"At most {TAGS_MAX} tags.", field=field)
    return tags


def _clean_action(action, schema) -> dict:
    from metadata import services as metadata_services

    kind = action.get("type")
    if kind in ("restrict", "unpublish", "trash"):
        return {"type": kind}
    if kind == "move":
        return {"type": kind, "folder": _clean_folder(action.get("folder"), "move_folder").pk}
    if kind in ("add_tags", "remove_tags"):
        return {"type": kind, "tags": _clean_tags(action.get("tags"), kind)}
    if kind == "set_metadata":
        values = action.get("values")
        if not isinstance(values, dict) or not values:
            raise ValidationFailed("Choose a field and its value.", field="metadata")
        return {"type": kind, "values": metadata_services.clean_changes(schema, values)}
    # email
    to = action.get("to")
    if to not in EMAIL_TO:
        raise ValidationFailed("Email the uploader or a group.", field="email_to")
    out = {"type": kind, "to": to}
    if to == "group":
        group_id = action.get("group")
        valid = not isinstance(group_id, bool) and policy.is_valid_id(group_id)
        group = Group.objects.filter(pk=int(group_id)).first() if valid else None
        if group is None:
            raise ValidationFailed("Choose a group.", field="email_group")
        out["group"] = group.pk
    message = str(action.get("message") or "").strip()
    if "\x00" in message or len(message) > MESSAGE_MAX:
        raise ValidationFailed(
            f"The message has at most {MESSAGE_MAX:,} characters.", field="email_message"
        )
    out["message"] = message
    return out


def clean_actions(actions, schema=None) -> list[dict]:
    """[{"type": ..., parameters}] checked, each type once, in the order they run."""
    from metadata import selectors as metadata_selectors

    if not isinstance(actions, (list, tuple)) or not actions:
        raise ValidationFailed("Choose at least one action.", field="actions")
    cleaned: dict[str, dict] = {}
    for action in actions:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in ACTION_TYPES:
            raise ValidationFailed(
                f"An action's type is one of {', '.join(ACTION_TYPES)}.", field="actions"
            )
        if kind in cleaned:
            raise ValidationFailed(f"The action “{kind}” is given twice.", field="actions")
        schema = schema or metadata_selectors.schema_get()
        cleaned[kind] = _clean_action(action, schema)
    return [cleaned[k] for k in ACTION_TYPES if k in cleaned]


def _clean_rule(data: dict, *, exclude_pk: int | None = None) -> dict:
    out = {"name": _clean_name(data.get("name"), exclude_pk)}
    trigger = data.get("trigger")
    if trigger not in AutomationTrigger.values:
        raise ValidationFailed("Choose what triggers the rule.", field="trigger")
    out.update(trigger=trigger, date_field="", days_ahead=0, folder=None, expression="")
    if trigger == AutomationTrigger.DATE_REACHED:
        out["date_field"] = _date_field(data.get("date_field")).external_id
        out["days_ahead"] = _clean_days(data.get("days_ahead"))
    elif trigger == AutomationTrigger.FOLDER_ENTERED:
        out["folder"] = _clean_folder(data.get("folder"), "folder")
    else:
        out["expression"] = _clean_expression(data.get("expression"))
    out["actions"] = clean_actions(data.get("actions"))
    return out


RULE_FIELDS = ("name", "trigger", "date_field", "days_ahead", "folder", "expression", "actions")


def rule_snapshot(rule: AutomationRule) -> dict:
    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "date_field": rule.date_field,
        "days_ahead": rule.days_ahead,
        "folder": rule.folder_id,
        "expression": rule.expression,
        "actions": rule.actions,
        "paused": rule.paused_at is not None,
    }


def automation_rule_create(*, actor, paused: bool = False, **data) -> AutomationRule:
    """A new rule, active unless `paused`; it runs as `actor`."""
    _require_manager(actor)
    with transaction.atomic():
        cleaned = _clean_rule(data)
        rule = AutomationRule.objects.create(
            **cleaned,
            paused_at=timezone.now() if paused else None,
            run_as=actor,
            created_by=actor,
        )
        audit_record(actor=actor, verb="automation.rule_create", obj=rule, data=rule_snapshot(rule))
    return rule


def automation_rule_update(*, actor, rule: AutomationRule, **changes) -> AutomationRule:
    """Change what was passed (the rest stays); the rule runs as `actor` from now on."""
    _require_manager(actor)
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field “{sorted(unknown)[0]}”.", field="non_field_errors")
    with transaction.atomic():
        rule = AutomationRule.objects.select_for_update().get(pk=rule.pk)
        before = rule_snapshot(rule)
        current = {**before, "folder": rule.folder_id}
        current.pop("paused")
        cleaned = _clean_rule({**current, **changes}, exclude_pk=rule.pk)
        for field, value in cleaned.items():
            setattr(rule, field, value)
        rule.run_as = actor
        rule.save()
        audit_record(
            actor=actor,
            verb="automation.rule_update",
            obj=rule,
            data={"before": before, "after": rule_snapshot(rule)},
        )
    return rule


def automation_rule_pause(*, actor, rule: AutomationRule, paused: bool) -> AutomationRule:
    """Pause (nothing runs) or resume (the next sweep catches up on what it missed)."""
    _require_manager(actor)
    with transaction.atomic():
        rule = AutomationRule.objects.select_for_update().get(pk=rule.pk)
        if (rule.paused_at is not None) == paused:
            return rule
        rule.paused_at = timezone.now() if paused else None
        rule.save(update_fields=["paused_at", "updated_at"])
        verb = "automation.rule_pause" if paused else "automation.rule_resume"
        audit_record(actor=actor, verb=verb, obj=rule, data={})
    return rule


def automation_rule_delete(*, actor, rule: AutomationRule) -> None:
    """Delete the rule and its run log (the audit log keeps what it did)."""
    _require_manager(actor)
    with transaction.atomic():
        audit_record(actor=actor, verb="automation.rule_delete", obj=rule, data=rule_snapshot(rule))
        rule.delete()


# == runs ===============================================================================
def _period(rule: AutomationRule, now: datetime, today: date) -> str:
    """The window a scheduled run covers: one a day for date rules, else one a slot."""
    if rule.trigger == AutomationTrigger.DATE_REACHED:
        return f"day:{today.isoformat()}"
    local = timezone.localtime(now)
    slot = local.replace(minute=local.minute - local.minute % SLOT_MINUTES, second=0, microsecond=0)
    return f"slot:{slot.strftime('%Y-%m-%dT%H:%M')}"


def _enqueue(run: AutomationRun) -> None:
    from assets import tasks

    transaction.on_commit(lambda: tasks.automation_run_execute.delay(run.pk), robust=True)


def automation_sweep(*, now: datetime | None = None, today: date | None = None) -> dict:
    """Beat's entry point: claim this period's run of every active rule and enqueue it.
    A period already claimed (another beat process, a restart) is left alone."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    claimed = already = 0
    for rule in AutomationRule.objects.filter(paused_at__isnull=True).order_by("pk"):
        with transaction.atomic():
            run, created = AutomationRun.objects.get_or_create(
                rule=rule, period=_period(rule, now, today), defaults={"today": today}
            )
            if created:
                _enqueue(run)
                claimed += 1
            else:
                already += 1
    log.info("automation sweep: %d runs claimed, %d already claimed", claimed, already)
    return {"claimed": claimed, "already": already}


def automation_run_request(*, actor, rule: AutomationRule, today: date | None = None):
    """ "Run now": a manual run of an active rule, enqueued after the commit."""
    _require_manager(actor)
    now = timezone.now()
    with transaction.atomic():
        rule = AutomationRule.objects.select_for_update().get(pk=rule.pk)
        if rule.paused_at is not None:
            raise Conflict("The rule is paused; resume it to run it.")
        run = AutomationRun.objects.create(
            rule=rule,
            period=f"manual:{now.isoformat()}:{actor.pk}",
            manual=True,
            requested_by=actor,
            today=today or timezone.localdate(now),
        )
        audit_record(actor=actor, verb="automation.run_request", obj=rule, data={"run": run.pk})
        _enqueue(run)
    return run


@contextmanager
def _rule_lock(rule_id: int):
    """A session advisory lock on the rule, for the whole run (its batches commit
    separately); yields False when another run holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, rule_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, rule_id])


class RuleBroken(Exception):
    """The rule cannot run as saved (its folder or field is gone, its owner is no admin)."""


def _trigger(rule: AutomationRule, today: date, started: datetime) -> tuple[Q, object]:
    """(filter of the assets the trigger selects, expression of their occurrence key)."""
    from assets.search import expression_filter
    from assets.search_query import QuerySyntaxError

    if rule.trigger == AutomationTrigger.DATE_REACHED:
        try:
            field = _date_field(rule.date_field)
        except ValidationFailed as exc:
            raise RuleBroken(exc.message) from None
        due = today + timedelta(days=rule.days_ahead)
        # ISO dates compare as text; the key is passed as a parameter (any external ID).
        occurrence = KeyTextTransform(field.external_id, "metadata")
        return Q(occ__isnull=False, occ__lte=due.isoformat()), occurrence
    if rule.trigger == AutomationTrigger.FOLDER_ENTERED:
        if rule.folder_id is None or rule.folder is None or rule.folder.deleted_at is not None:
            raise RuleBroken("The rule's folder was deleted; choose another folder.")
        return Q(ancestors__contains=[rule.folder_id]), Value("")
    try:
        matches = expression_filter(rule.expression)
    except QuerySyntaxError as exc:  # a field it names was deleted since
        raise RuleBroken(f"The search expression no longer works: {exc}") from None
    since = rule.created_at
    if rule.checked_until is not None:
        since = max(since, rule.checked_until - UPLOAD_GRACE)
    return (matches or Q()) & Q(created_at__gte=since), Value("")


def due_assets(rule: AutomationRule, q: Q, occurrence, after: int = 0) -> QuerySet:
    """The next batch of assets the trigger selects and the rule has not handled, by id."""
    handled = AutomationRunItem.objects.filter(
        rule_id=rule.pk, asset_id=OuterRef("pk"), occurrence=OuterRef("occ")
    )
    return (
        Asset.objects.annotate(occ=occurrence)
        .filter(q, pk__gt=after)
        .filter(~Exists(handled))
        .order_by("pk")
        .values_list("pk", "occ")[:BATCH]
    )


def _finish(run: AutomationRun, status: str, message: str = "") -> AutomationRun:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "finished_at", "assets_done", "assets_failed"])
    return run


def automation_run_execute(*, run_id: int) -> AutomationRun | None:
    """Do one claimed run; a run already finished is left as it is (redelivery)."""
    run = AutomationRun.objects.select_related("rule", "rule__run_as", "rule__folder")
    run = run.filter(pk=run_id).first()
    final = (AutomationRunStatus.DONE, AutomationRunStatus.FAILED, AutomationRunStatus.SKIPPED)
    if run is None or run.status in final:
        return run
    rule = run.rule
    with _rule_lock(rule.pk) as held:
        if not held:
            return _finish(
                run, AutomationRunStatus.SKIPPED, "Another run of this rule was in progress."
            )
        rule.refresh_from_db()
        if rule.paused_at is not None:
            return _finish(run, AutomationRunStatus.SKIPPED, "The rule was paused.")
        run.status = AutomationRunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
        try:
            _walk(run, rule)
        except RuleBroken as exc:
            return _finish(run, AutomationRunStatus.FAILED, str(exc))
        if rule.trigger == AutomationTrigger.UPLOAD_MATCHES:
            AutomationRule.objects.filter(pk=rule.pk).update(checked_until=run.started_at)
        message = ""
        if run.assets_failed:
            message = f"{run.assets_failed} asset(s) could not be changed; see below."
        with transaction.atomic():
            _finish(run, AutomationRunStatus.DONE, message)
            if run.assets_done and any(a["type"] == "email" for a in rule.actions):
                from assets import tasks

                transaction.on_commit(
                    lambda: tasks.automation_run_notify.delay(run.pk), robust=True
                )
    log.info(
        "automation rule %s run %s: %d done, %d failed",
        rule.pk,
        run.pk,
        run.assets_done,
        run.assets_failed,
    )
    return run


def _walk(run: AutomationRun, rule: AutomationRule) -> None:
    from metadata import selectors as metadata_selectors

    actor = rule.run_as
    if not policy.can_manage_automation(actor):
        raise RuleBroken(
            f"{actor.display_name} no longer has an admin role; an admin saving the rule "
            "again makes it run as them."
        )
    today = run.today or timezone.localdate()
    q, occurrence = _trigger(rule, today, run.started_at)
    schema = metadata_selectors.schema_get() if _has(rule, "set_metadata") else None
    after = 0
    while True:
        batch = list(due_assets(rule, q, occurrence, after))
        for asset_id, occ in batch:
            ok = _act(run, rule, actor, asset_id, occ or "", q, occurrence, schema)
            if ok is True:
                run.assets_done += 1
            elif ok is False:
                run.assets_failed += 1
        AutomationRun.objects.filter(pk=run.pk).update(
            assets_done=run.assets_done, assets_failed=run.assets_failed
        )
        if len(batch) < BATCH:
            return
        after = batch[-1][0]


def _has(rule: AutomationRule, kind: str) -> bool:
    return any(a.get("type") == kind for a in rule.actions)


def _act(run, rule, actor, asset_id: int, occ: str, q: Q, occurrence, schema) -> bool | None:
    """Act on one asset in its own transaction: True done, False failed (logged on the
    item), None when it no longer matches or another run handled it first."""
    with transaction.atomic():
        asset = (
            Asset.objects.select_for_update(of=("self",))
            .annotate(occ=occurrence)
            .filter(q, pk=asset_id)
            .first()
        )
        if asset is None or (asset.occ or "") != occ:
            return None  # changed since the batch was read
        try:
            with transaction.atomic():
                item = AutomationRunItem.objects.create(
                    rule=rule, run=run, asset=asset, asset_name=asset.display_name, occurrence=occ
                )
        except IntegrityError:
            return None  # handled already (a concurrent run won the unique index)
        try:
            with transaction.atomic():
                done = _apply(rule, actor, asset, schema)
                audit_record(
                    actor=actor,
                    verb="automation.act",
                    obj=asset,
                    data={"rule": rule.pk, "run": run.pk, "occurrence": occ, "done": done},
                )
            item.detail = "; ".join(done) or "Nothing to change."
        except (ServiceError, policy.PermissionDeniedForLevel, Http404) as exc:
            item.ok = False
            item.detail = getattr(exc, "message", None) or str(exc) or "Refused."
        item.save(update_fields=["ok", "detail"])
        return item.ok


def _apply(rule: AutomationRule, actor, asset: Asset, schema) -> list[str]:
    """Run the rule's actions on the (locked) asset through the services; what changed."""
    from assets import collection_services, services

    done: list[str] = []
    for action in rule.actions:
        kind = action["type"]
        if kind == "restrict":
            if asset.access_mode != AccessMode.RESTRICTED:
                services.asset_update(actor=actor, asset=asset, access_mode=AccessMode.RESTRICTED)
                done.append("restricted")
        elif kind == "unpublish":
            for collection in published_collections_of(asset):
                collection_services.collection_remove(
                    actor=actor, collection=collection, ids=[asset.pk]
                )
                done.append(f"removed from “{collection.name}”")
        elif kind == "set_metadata":
            before = dict(asset.metadata)
            services.asset_update(
                actor=actor, asset=asset, metadata=action["values"], schema=schema
            )
            if asset.metadata != before:
                done.append("metadata set")
        elif kind in ("add_tags", "remove_tags"):
            before = list(asset.tags)
            tags = action["tags"]
            if kind == "add_tags":
                services.asset_tags_change(actor=actor, asset=asset, add=tags)
            else:
                services.asset_tags_change(actor=actor, asset=asset, remove=tags)
            if asset.tags != before:
                done.append(("tagged " if kind == "add_tags" else "untagged ") + ", ".join(tags))
        elif kind == "move":
            folder = Folder.objects.filter(pk=action["folder"]).first()
            if folder is None:
                raise ValidationFailed("The destination folder was deleted.", field="move_folder")
            if folder.pk != asset.folder_id:
                services.asset_move(actor=actor, asset=asset, folder=folder)
                done.append(f"moved to {folder.path}")
        elif kind == "trash":
            services.asset_delete(actor=actor, asset=asset)
            done.append("moved to the trash")
        elif kind == "email":
            done.append("emailed")
    return done


def published_collections_of(asset: Asset) -> QuerySet:
    """Collections holding the asset that have a live public link.

    "Unpublish from collections" takes the asset out of these collections: the link and
    the collection's other assets stay as they are (revoking the whole link would take
    down every other asset with it), and unpublished collections are not touched."""
    now = timezone.now()
    from assets.models import CollectionLink

    live = CollectionLink.objects.filter(
        collection_id=OuterRef("pk"), revoked_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return Collection.objects.filter(items__asset=asset).filter(Exists(live)).order_by("pk")


# == email after a run ======================================================================
def automation_run_notify(*, run_id: int) -> int:
    """Email (and notify in the app) the people the rule's email action names, once per
    run: one message each listing the assets they may see. Returns emails sent."""
    from django.core.mail import send_mass_mail
    from django.urls import reverse

    from accounts.models import User, UserStatus
    from dam.services import notify

    with transaction.atomic():
        run = (
            AutomationRun.objects.select_for_update(of=("self",))
            .select_related("rule")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.notified_at is not None:
            return 0
        action = next((a for a in run.rule.actions if a["type"] == "email"), None)
        if action is None:
            return 0
        run.notified_at = timezone.now()
        run.save(update_fields=["notified_at"])
    items = run.items.filter(ok=True, asset__isnull=False)
    asset_ids = list(items.values_list("asset_id", flat=True))
    assets = Asset.all_objects.filter(pk__in=asset_ids)
    if action["to"] == "uploader":
        uploader_ids = set(assets.values_list("created_by_id", flat=True))
        people = User.objects.filter(pk__in=uploader_ids)
    else:
        group = Group.objects.filter(pk=action.get("group")).first()
        people = group.user_set.all() if group else User.objects.none()
    people = people.filter(is_active=True).exclude(status=UserStatus.INACTIVE).order_by("pk")
    base = settings.DAM_BASE_URL.rstrip("/")
    rule_name = " ".join(run.rule.name.split())
    messages = []
    for person in people:
        mine = assets if action["to"] == "group" else assets.filter(created_by=person)
        # Only assets this person may see are named to them.
        visible = policy.access_for(person).filter_assets(mine, Level.COLLECTION)
        rows = list(visible.order_by("pk").values_list("pk", "display_name")[: EMAIL_LIST_MAX + 1])
        if not rows:
            continue
        count = visible.count() if len(rows) > EMAIL_LIST_MAX else len(rows)
        lines = [
            f"- {' '.join(name.split())}: {base}{reverse('assets:detail', args=[pk])}"
            for pk, name in rows[:EMAIL_LIST_MAX]
        ]
        if count > EMAIL_LIST_MAX:
            lines.append(f"... and {count - EMAIL_LIST_MAX:,} more.")
        what = describe_actions(run.rule.actions, with_email=False)
        summary = f"The automation rule “{rule_name}” acted on {count} asset(s): {what}."
        body = f"Hello {person.get_short_name()},\n\n{summary}\n"
        if action.get("message"):
            body += f"\n{action['message']}\n"
        body += "\n" + "\n".join(lines) + "\n"
        subject = f"Automation: “{rule_name}” acted on {count} asset(s)"[:200]
        messages.append((subject, body, settings.DEFAULT_FROM_EMAIL, [person.email]))
        first = rows[0][0]
        notify(
            user=person,
            kind="automation",
            message=summary,
            link=reverse("assets:detail", args=[first]) if count == 1 else "",
            key=f"automation-run:{run.pk}:{person.pk}",
        )
    return send_mass_mail(messages, fail_silently=False) if messages else 0


# == reads ===================================================================================
def rules_listed() -> QuerySet:
    """Rules for the Settings list: each with its latest run's time and status."""
    latest = AutomationRun.objects.filter(rule=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        AutomationRule.objects.select_related("folder", "run_as")
        .annotate(
            last_run_at=Subquery(latest.values("created_at")[:1]),
            last_run_status=Subquery(latest.values("status")[:1]),
            last_run_done=Subquery(latest.values("assets_done")[:1]),
        )
        .order_by(Lower("name"), "id")
    )


def rule_get(rule_id) -> AutomationRule | None:
    if isinstance(rule_id, bool) or not policy.is_valid_id(rule_id):
        return None
    return AutomationRule.objects.select_related("folder", "run_as").filter(pk=rule_id).first()


def rule_runs(rule: AutomationRule) -> QuerySet:
    return AutomationRun.objects.filter(rule=rule).select_related("requested_by")


def run_items(run: AutomationRun) -> QuerySet:
    return run.items.select_related("asset").order_by("id")


def describe_trigger(rule: AutomationRule, schema=None) -> str:
    """The trigger in words, for the list and the rule page."""
    if rule.trigger == AutomationTrigger.DATE_REACHED:
        from metadata import selectors as metadata_selectors

        schema = schema or metadata_selectors.schema_get()
        f = schema.by_id.get(rule.date_field)
        label = f.label if f else f"{rule.date_field} (deleted field)"
        if rule.days_ahead == 0:
            return f"{label} is today or past"
        days = "1 day" if rule.days_ahead == 1 else f"{rule.days_ahead} days"
        return f"{label} is within {days}"
    if rule.trigger == AutomationTrigger.FOLDER_ENTERED:
        where = rule.folder.path if rule.folder else "a deleted folder"
        return f"An asset is in {where} (or below)"
    return f"An upload matches {rule.expression}"


def describe_actions(actions: list[dict], *, with_email: bool = True) -> str:
    parts = []
    for a in actions:
        kind = a["type"]
        if kind in ("add_tags", "remove_tags"):
            verb = "add" if kind == "add_tags" else "remove"
            parts.append(f"{verb} tags {', '.join(a['tags'])}")
        elif kind == "move":
            folder = Folder.objects.filter(pk=a["folder"]).first()
            parts.append(f"move to {folder.path if folder else 'a deleted folder'}")
        elif kind == "set_metadata":
            parts.append("set " + ", ".join(a["values"]))
        elif kind == "email":
            if with_email:
                parts.append("email the uploader" if a["to"] == "uploader" else "email a group")
        else:
            parts.append(ACTION_LABELS[kind].lower())
    return "; ".join(parts)
