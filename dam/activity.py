"""The activity report: every audited action (dam.models.AuditEvent), filtered, shown and
exported. One place maps verbs to human labels and to the groups people filter by; the
page, the CSV export, the API and the asset page's History all read through here.

Work stays bounded at ten million events: every filter has an index (the model's
(actor, -at), (verb, -at), (object_type, object_id) and `at`, plus migration 0006's),
lists are read newest first a page at a time, and pages count at most COUNT_LIMIT
matches ("more than 1,000", then Previous/Next), the way search does.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.apps import apps
from django.db.models import Q, QuerySet
from django.urls import reverse

from accounts import policy
from accounts.models import UserStatus
from dam.models import AuditEvent

COUNT_LIMIT = 1_000  # matches counted per page view; past it the page says "more than"
CSV_MAX_ROWS = 1_000_000  # an export stops here (its last line says so)
CSV_CHUNK = 2_000  # rows read and named per round trip while streaming
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
ID_MAX = 2**63 - 1
TEXT_MAX = 64  # verb, object_type and object_id columns are 64 characters

# -- verbs and their groups ---------------------------------------------------------
# Each verb: the sentence people read ("Uploaded"), and the group it belongs to first.
# A verb found in the log but missing here still shows (as itself) and is exported;
# dam/tests/test_activity.py checks that every verb the code records is listed.
VERBS: dict[str, tuple[str, str]] = {
    # uploads and processing
    "upload.start": ("Started a resumable upload", "uploads"),
    "upload.cancel": ("Cancelled an upload", "uploads"),
    "asset.upload": ("Uploaded", "uploads"),
    "asset.new_version": ("Uploaded a new version", "uploads"),
    "asset.processed": ("Processing finished", "uploads"),
    "asset.processing_failed": ("Processing failed", "uploads"),
    # edits
    "asset.update": ("Edited", "edits"),
    "asset.move": ("Moved to another folder", "edits"),
    "asset.version_restore": ("Restored an earlier version", "edits"),
    "asset.comment": ("Commented", "edits"),
    "folder.create": ("Created folder", "edits"),
    "folder.rename": ("Renamed folder", "edits"),
    "folder.move": ("Moved folder", "edits"),
    "collection.create": ("Created collection", "edits"),
    "collection.update": ("Changed collection", "edits"),
    "collection.add": ("Added assets to collection", "edits"),
    "collection.remove": ("Removed assets from collection", "edits"),
    "collection.reorder": ("Reordered collection", "edits"),
    # metadata definitions (asset metadata edits are asset.update: see GROUPS)
    "metadata.field_create": ("Created metadata field", "metadata"),
    "metadata.field_update": ("Changed metadata field", "metadata"),
    "metadata.field_delete": ("Deleted metadata field", "metadata"),
    "metadata.fields_reorder": ("Reordered metadata fields", "metadata"),
    "metadata.value_create": ("Added list value", "metadata"),
    "metadata.value_update": ("Changed list value", "metadata"),
    "metadata.rule_create": ("Created conditional rule", "metadata"),
    "metadata.rule_update": ("Changed conditional rule", "metadata"),
    "metadata.rule_delete": ("Deleted conditional rule", "metadata"),
    "metadata.rules_reorder": ("Reordered conditional rules", "metadata"),
    # shares
    "folder.share": ("Shared folder", "shares"),
    "folder.unshare": ("Stopped sharing folder", "shares"),
    "collection.share": ("Shared collection", "shares"),
    "collection.unshare": ("Stopped sharing collection", "shares"),
    "collection.publish": ("Published collection link", "shares"),
    "collection.unpublish": ("Revoked collection link", "shares"),
    # downloads (every original served by a page, the API, a zip or a public link; files
    # served by delivery URLs are counted in the usage reports instead)
    "asset.delivery_url": ("Made a signed delivery URL", "downloads"),
    "asset.download": ("Downloaded", "downloads"),
    "collection.download": ("Downloaded collection", "downloads"),
    # moderation
    "asset.moderation.approve": ("Approved", "moderation"),
    "asset.moderation.reject": ("Rejected", "moderation"),
    "asset.moderation.auto": ("Automatic moderation", "moderation"),
    # logins
    "user.login": ("Logged in", "logins"),
    "user.logout": ("Logged out", "logins"),
    # user lifecycle
    "user.invite": ("Invited user", "users"),
    "user.resend_invite": ("Resent invitation", "users"),
    "user.update": ("Changed user", "users"),
    "user.update_profile": ("Changed own profile", "users"),
    "user.password_change": ("Changed password", "users"),
    "user.set_password": ("Set password", "users"),
    "user.reset_password": ("Reset password", "users"),
    "user.force_logout": ("Logged user out everywhere", "users"),
    "user.delete": ("Deleted user (now inactive)", "users"),
    "group.create": ("Created group", "users"),
    "group.update": ("Changed group", "users"),
    "group.add_members": ("Added group members", "users"),
    "group.remove_members": ("Removed group members", "users"),
    "group.delete": ("Deleted group", "users"),
    "api_token.create": ("Created API token", "users"),
    "api_token.revoke": ("Revoked API token", "users"),
    # deletes and restores
    "asset.delete": ("Moved to trash", "deletes"),
    "asset.restore": ("Restored from trash", "deletes"),
    "asset.purge": ("Deleted forever", "deletes"),
    "folder.delete": ("Moved folder to trash", "deletes"),
    "folder.restore": ("Restored folder from trash", "deletes"),
    "folder.purge": ("Deleted folder forever", "deletes"),
    "collection.delete": ("Deleted collection", "deletes"),
    # settings and automation
    "preferences.update": ("Changed preferences", "settings"),
    "preset.create": ("Created upload preset", "settings"),
    "preset.update": ("Changed upload preset", "settings"),
    "preset.delete": ("Deleted upload preset", "settings"),
    "delivery_preset.create": ("Created delivery preset", "settings"),
    "delivery_preset.update": ("Changed delivery preset", "settings"),
    "delivery_preset.delete": ("Deleted delivery preset", "settings"),
    "automation.rule_create": ("Created automation rule", "settings"),
    "automation.rule_update": ("Changed automation rule", "settings"),
    "automation.rule_pause": ("Paused automation rule", "settings"),
    "automation.rule_resume": ("Resumed automation rule", "settings"),
    "automation.rule_delete": ("Deleted automation rule", "settings"),
    "automation.run_request": ("Ran automation rule now", "settings"),
    "automation.act": ("Automation acted", "settings"),
    "search.save": ("Saved a search", "settings"),
    "search.unsave": ("Deleted a saved search", "settings"),
}


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    verbs: tuple[str, ...]
    also: Q | None = None  # events of other verbs that belong here too

    def q(self) -> Q:
        q = Q(verb__in=self.verbs)
        return q | self.also if self.also is not None else q


_GROUP_LABELS = {
    "uploads": "Uploads",
    "edits": "Edits",
    "metadata": "Metadata changes",
    "shares": "Shares",
    "downloads": "Downloads",
    "moderation": "Moderation decisions",
    "logins": "Logins",
    "users": "User lifecycle",
    "deletes": "Deletes and restores",
    "settings": "Settings and automation",
}
# An edit of an asset's metadata is an "asset.update" whose `after` names metadata: it is
# both an edit and a metadata change.
_METADATA_EDITS = Q(verb="asset.update", data__after__has_key="metadata")
GROUPS: dict[str, Group] = {
    key: Group(
        key=key,
        label=label,
        verbs=tuple(v for v, (_s, g) in VERBS.items() if g == key),
        also=_METADATA_EDITS if key == "metadata" else None,
    )
    for key, label in _GROUP_LABELS.items()
}

# Object types people filter by: model label -> what to call it.
OBJECT_TYPES: dict[str, str] = {
    "assets.asset": "Asset",
    "assets.folder": "Folder",
    "assets.collection": "Collection",
    "accounts.user": "User",
    "auth.group": "Group",
    "metadata.metadatafield": "Metadata field",
    "assets.uploadpreset": "Upload preset",
    "assets.deliverypreset": "Delivery preset",
    "assets.automationrule": "Automation rule",
    "assets.savedsearch": "Saved search",
    "assets.uploadsession": "Upload",
    "accounts.apitoken": "API token",
    "dam.preferences": "Preferences",
}


def verb_label(verb: str) -> str:
    return VERBS.get(verb, (verb, ""))[0]


def verb_group(verb: str) -> str:
    group = GROUPS.get(VERBS.get(verb, ("", ""))[1])
    return group.label if group else "Other"


def action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The page's action picker: per group, the whole group and then each of its verbs."""
    out = []
    for group in GROUPS.values():
        options = [(group.key, f"All {group.label.lower()}")]
        options += [(v, f"{verb_label(v)} ({v})") for v in group.verbs]
        out.append((group.label, options))
    return out


def object_type_label(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type, object_type or "—")


# -- filters ------------------------------------------------------------------------
@dataclass
class Filters:
    actor: int | None = None
    verb: str = ""
    group: str = ""
    object_type: str = ""
    object_id: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(
            self.actor or self.verb or self.group or self.object_type or self.since or self.until
        )


def _text(raw: Mapping, name: str) -> str:
    value = raw.get(name) or ""
    return str(value).strip()


def _bad_text(value: str) -> bool:
    return "\x00" in value or len(value) > TEXT_MAX


def _when(value: str, *, end: bool) -> datetime:
    """A date (YYYY-MM-DD: the whole day, UTC) or an ISO 8601 time (naive means UTC).
    For `until` a date includes its whole day; the result is an exclusive bound."""
    if len(value) > 40:
        raise ValueError
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = date.fromisoformat(value)
        start = datetime.combine(day, time.min, tzinfo=UTC)
        moment = start + timedelta(days=1) if end else start
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        if end:
            moment += timedelta(microseconds=1)  # "until 12:00" includes 12:00 itself
    if not EARLIEST <= moment <= LATEST:
        raise OverflowError
    return moment


def filters_from(raw: Mapping) -> Filters:
    """The filters from a query string (page, CSV, API: the same names). Every mistake is
    kept as a sentence per field in `errors`; a list with errors shows no rows.

    user (or actor): a user id; verb: one verb; group: a group key; action: either (the
    page's picker); object_type and object_id; since and until: dates or ISO times, UTC.
    """
    f = Filters()
    errors = f.errors
    user = _text(raw, "user") or _text(raw, "actor")
    if user:
        tagged = _TAGGED_USER.search(user)  # a suggestion: "Name <email> #42"
        user = tagged.group(1) if tagged else user
        if "@" in user and not tagged:
            odd = "\x00" in user or len(user) > 254  # no address is longer
            found = [] if odd else users_by_email(user)
            if len(found) == 1:
                f.actor = found[0]
            elif found:
                errors["user"] = (
                    "More than one user has had that email address; choose one from the "
                    "suggestions."
                )
            else:
                errors["user"] = "No user has that email address."
        elif not (user.isascii() and user.isdigit() and len(user) <= 19) or not (
            0 < int(user) <= ID_MAX
        ):
            errors["user"] = "Choose a user from the list (a user id is a whole number)."
        else:
            f.actor = int(user)
    action = _text(raw, "action")
    verb, group = _text(raw, "verb"), _text(raw, "group")
    if action and not (verb or group):
        if action in GROUPS:
            group = action
        else:
            verb = action
    if verb:
        if _bad_text(verb) or verb not in VERBS:
            errors["verb" if not action else "action"] = "Unknown action; choose one from the list."
        else:
            f.verb = verb
    if group:
        if group not in GROUPS:
            keys = ", ".join(GROUPS)
            errors["group" if not action else "action"] = (
                f"Unknown group of actions; choose one of {keys}."
            )
        else:
            f.group = group
    object_type, object_id = _text(raw, "object_type"), _text(raw, "object_id")
    if object_type:
        if _bad_text(object_type) or object_type not in _known_types():
            errors["object_type"] = "Unknown object type; choose one from the list."
        else:
            f.object_type = object_type
    if object_id:
        if not object_type:
            errors["object_id"] = "Choose the object type too."
        elif _bad_text(object_id):
            errors["object_id"] = f"An object id has at most {TEXT_MAX} characters."
        elif _numeric_ids(object_type) and not (
            object_id.isascii() and object_id.isdigit() and 0 < int(object_id) <= ID_MAX
        ):
            errors["object_id"] = (
                f"{object_type_label(object_type)} ids are whole numbers (like 42)."
            )
        else:
            f.object_id = object_id
    for name in ("since", "until"):
        value = _text(raw, name)
        if not value:
            continue
        try:
            setattr(f, name, _when(value, end=name == "until"))
        except OverflowError:
            errors[name] = "Choose a date between 1970 and 9000."
        except ValueError:
            errors[name] = "Use a date like 2026-03-31 (or an ISO 8601 time, UTC)."
    if f.since and f.until and f.since >= f.until and "until" not in errors:
        errors["until"] = "The end of the range is before its start."
    return f


def _known_types() -> set[str]:
    return set(OBJECT_TYPES) | {m._meta.label_lower for m in apps.get_models()}


def _numeric_ids(object_type: str) -> bool:
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return False
    return model._meta.pk.get_internal_type() in (
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "PositiveIntegerField",
    )


def events(filters: Filters) -> QuerySet:
    """The matching events, newest first (with their actor). Nothing when a filter was
    wrong: a report of "everything" when you asked for something would mislead."""
    qs = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if filters.errors:
        return qs.none()
    if filters.actor is not None:
        qs = qs.filter(actor_id=filters.actor)
    if filters.verb:
        qs = qs.filter(verb=filters.verb)
    if filters.group:
        qs = qs.filter(GROUPS[filters.group].q())
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.since:
        qs = qs.filter(at__gte=filters.since)
    if filters.until:
        qs = qs.filter(at__lt=filters.until)
    return qs


def asset_events(asset) -> QuerySet:
    """An asset's own history: events on it, and collection additions and removals that
    named it (found through migration 0006's index on those events' asset lists). The
    two are gathered apart and joined by id: as one OR, PostgreSQL walks the whole log."""
    on_asset = AuditEvent.objects.filter(object_type="assets.asset", object_id=str(asset.pk))
    named = AuditEvent.objects.filter(
        verb__in=("collection.add", "collection.remove"), data__assets__contains=[asset.pk]
    )
    ids = on_asset.order_by().values("pk").union(named.order_by().values("pk"), all=True)
    qs = AuditEvent.objects.select_related("actor").filter(pk__in=ids)
    return qs.order_by("-at", "-id")


def count_bounded(qs: QuerySet, limit: int | None = None) -> tuple[int, bool]:
    """(count, exact): at most `limit` (COUNT_LIMIT) rows are counted; past it the count
    is `limit`."""
    limit = COUNT_LIMIT if limit is None else limit
    found = qs.order_by().values("pk")[: limit + 1].count()
    return min(found, limit), found <= limit


# -- presentation -------------------------------------------------------------------
@dataclass
class Row:
    event: AuditEvent
    at: datetime
    actor_id: int | None
    actor_label: str
    actor_email: str
    actor_inactive: bool
    verb: str
    action: str  # the verb's sentence, with details where easy
    group: str
    object_type: str
    object_type_label: str
    object_id: str
    object_label: str  # a name, or "Asset #42"
    object_url: str  # "" when there is no page the viewer may open
    object_gone: str  # "", "in trash" or "deleted"
    ip: str


@dataclass
class _Named:
    label: str
    url: str = ""
    gone: str = ""


def _user_label(user) -> str:
    return user.get_full_name() or user.email


def _names(pairs: set[tuple[str, str]], viewer, *, visible_collections=None) -> dict:
    """Names (and links) for the objects on a page: one query per object type, however
    many rows. Links only where the viewer may open the page; deleted objects keep their
    id. `visible_collections` (ids), when given, limits which collection names show."""
    from django.contrib.auth.models import Group as AuthGroup

    from accounts.models import User
    from assets.models import Asset, AutomationRule, Collection, Folder

    by_type: dict[str, list[int]] = {}
    for object_type, object_id in pairs:
        if object_id.isascii() and object_id.isdigit() and int(object_id) <= ID_MAX:
            by_type.setdefault(object_type, []).append(int(object_id))
    names: dict[tuple[str, str], _Named] = {}
    library = policy.is_admin_role(viewer)  # sees every asset, folder and collection
    managers = policy.can_manage_users(viewer)
    automation = policy.can_manage_automation(viewer)
    if ids := by_type.get("assets.asset"):
        for a in Asset.all_objects.filter(pk__in=ids).only("id", "display_name", "deleted_at"):
            gone = "in trash" if a.deleted_at else ""
            url = reverse("assets:detail", args=[a.pk]) if library and not gone else ""
            names["assets.asset", str(a.pk)] = _Named(a.display_name, url, gone)
    if ids := by_type.get("assets.folder"):
        for f in Folder.all_objects.filter(pk__in=ids).only("id", "path", "deleted_at"):
            gone = "in trash" if f.deleted_at else ""
            url = reverse("assets:folder", args=[f.pk]) if library and not gone else ""
            names["assets.folder", str(f.pk)] = _Named(f.path, url, gone)
    if ids := by_type.get("assets.collection"):
        if visible_collections is not None:
            ids = [i for i in ids if i in visible_collections]
        for c in Collection.objects.filter(pk__in=ids).only("id", "name"):
            url = reverse("collection", args=[c.pk]) if library else ""
            names["assets.collection", str(c.pk)] = _Named(c.name, url)
    if ids := by_type.get("accounts.user"):
        for u in User.objects.filter(pk__in=ids).only(
            "id", "email", "first_name", "last_name", "status"
        ):
            inactive = u.status == UserStatus.INACTIVE
            url = reverse("accounts:user_edit", args=[u.pk]) if managers else ""
            names["accounts.user", str(u.pk)] = _Named(
                _user_label(u) + (" (inactive)" if inactive else ""), url
            )
    if ids := by_type.get("auth.group"):
        for g in AuthGroup.objects.filter(pk__in=ids).only("id", "name"):
            url = reverse("accounts:group_detail", args=[g.pk]) if managers else ""
            names["auth.group", str(g.pk)] = _Named(g.name, url)
    if ids := by_type.get("assets.automationrule"):
        for r in AutomationRule.objects.filter(pk__in=ids).only("id", "name"):
            url = _automation_url(r.pk) if automation else ""
            names["assets.automationrule", str(r.pk)] = _Named(r.name, url)
    _settings_names(by_type, names, viewer)
    return names


def _settings_names(by_type: dict[str, list[int]], names: dict, viewer) -> None:
    """Names of the installation's settings objects (fields, presets, saved searches,
    uploads, API tokens, preferences), linked where the viewer may edit them."""
    from accounts.models import ApiToken
    from assets.models import DeliveryPreset, SavedSearch, UploadPreset, UploadSession
    from dam.models import Preferences
    from metadata.models import MetadataField

    admin = policy.is_admin_role(viewer)
    if ids := by_type.get("metadata.metadatafield"):
        editor = policy.can_manage_metadata(viewer)
        fields = MetadataField.all_objects.filter(pk__in=ids)
        for f in fields.only("id", "label", "external_id", "deleted_at"):
            gone = "deleted" if f.deleted_at else ""
            url = reverse("metadata:field", args=[f.external_id]) if editor and not gone else ""
            names["metadata.metadatafield", str(f.pk)] = _Named(f.label, url, gone)
    if ids := by_type.get("assets.uploadpreset"):
        for p in UploadPreset.objects.filter(pk__in=ids).only("id", "name"):
            url = reverse("assets:preset_edit", args=[p.name]) if admin else ""
            names["assets.uploadpreset", str(p.pk)] = _Named(p.name, url)
    if ids := by_type.get("assets.deliverypreset"):
        for p in DeliveryPreset.objects.filter(pk__in=ids).only("id", "name"):
            url = reverse("assets:delivery_presets") if admin else ""
            names["assets.deliverypreset", str(p.pk)] = _Named(f"t_{p.name}", url)
    if ids := by_type.get("assets.savedsearch"):
        for saved in SavedSearch.objects.filter(pk__in=ids).only("id", "name"):
            names["assets.savedsearch", str(saved.pk)] = _Named(saved.name)
    if ids := by_type.get("assets.uploadsession"):
        for u in UploadSession.objects.filter(pk__in=ids).only("id", "filename"):
            names["assets.uploadsession", str(u.pk)] = _Named(u.filename)
    if ids := by_type.get("accounts.apitoken"):
        tokens = ApiToken.objects.filter(pk__in=ids).only("id", "name", "prefix", "revoked_at")
        managers = policy.can_manage_users(viewer)  # the key's first characters: for them
        for t in tokens:
            gone = "revoked" if t.revoked_at else ""
            label = f"{t.name} ({t.prefix}…)" if managers else t.name
            names["accounts.apitoken", str(t.pk)] = _Named(label, "", gone)
    if ids := by_type.get("dam.preferences"):
        for pk in Preferences.objects.filter(pk__in=ids).values_list("pk", flat=True):
            names["dam.preferences", str(pk)] = _Named("Preferences")


def _automation_url(pk: int) -> str:
    return reverse("automation:rule", args=[pk])


_FIELD_LABELS = {
    "display_name": "name",
    "tags": "tags",
    "metadata": "metadata",
    "context": "context",
    "access_mode": "access mode",
    "public_from": "public from",
    "public_until": "public until",
    "expires_at": "expiry",
}


_DOWNLOAD_HOW = {"api": " through the API", "zip": " in a zip", "public link": " by public link"}


_PRINCIPAL_TYPES = {"user": "accounts.user", "group": "auth.group"}


def _principal(data: dict) -> tuple[str, str] | None:
    """The (object type, id) a share event's data names as its principal, if any."""
    principal = data.get("principal") if isinstance(data, dict) else None
    if not isinstance(principal, dict) or principal.get("type") not in _PRINCIPAL_TYPES:
        return None
    return _PRINCIPAL_TYPES[principal["type"]], str(principal.get("id", ""))


def _sentence(
    event: AuditEvent,
    *,
    collection_name: str = "",
    in_history: bool = False,
    names: dict | None = None,
) -> str:
    """The verb's sentence, with the detail that is easy to say from the event's data
    (`names`: the page's object names, for whom a share was given to)."""
    data = event.data if isinstance(event.data, dict) else {}
    verb = event.verb
    text = verb_label(verb)
    try:
        if verb == "asset.update" and isinstance(data.get("after"), dict):
            changed = [_FIELD_LABELS.get(k, k) for k in data["after"]]
            if changed:
                text = "Changed " + ", ".join(changed)
        elif verb in ("asset.new_version", "asset.version_restore") and data.get("version"):
            text = f"{text} (version {int(data['version'])})"
        elif verb == "asset.download" and data.get("version"):
            how = _DOWNLOAD_HOW.get(data.get("via"), "")
            text = f"Downloaded version {int(data['version'])}{how}"
        elif verb == "asset.moderation.auto" and data.get("verdict"):
            text = f"Automatic moderation: {data['verdict']}"
        elif verb.startswith("asset.moderation.") and data.get("reason"):
            text = f"{text}: “{str(data['reason'])[:200]}”"
        elif verb in ("folder.share", "collection.share") and data.get("level"):
            key = _principal(data)
            named = (names or {}).get(key) if key else None
            if named is not None:
                kind = "group" if key[0] == "auth.group" else "user"
                who = f"the {kind} {named.label}"
            else:
                who = "a group" if key and key[0] == "auth.group" else "a user"
            text = f"{text} with {who} at {data['level']}"
        elif verb in ("collection.add", "collection.remove") and "assets" in data:
            n = len(data["assets"] or [])
            where = "Added to" if verb == "collection.add" else "Removed from"
            if collection_name:
                text = f"{where} collection “{collection_name}”"
            elif in_history:  # a collection this viewer does not see: no name
                text = f"{where} a collection"
            else:
                verb_word = "Added" if verb == "collection.add" else "Removed"
                where = "to" if verb == "collection.add" else "from"
                text = f"{verb_word} {n} asset{'s' if n != 1 else ''} {where} collection"
        elif verb == "user.invite" and data.get("role"):
            text = f"{text} as {str(data['role']).replace('_', ' ')}"
    except (TypeError, ValueError, AttributeError):
        pass  # old or odd data: the plain sentence
    return text


def rows(
    events_: Iterable[AuditEvent], viewer, *, asset=None, visible_collections=None
) -> list[Row]:
    """Rows for a page of events, in a fixed number of queries (one per object type)."""
    events_ = list(events_)
    pairs = {(e.object_type, e.object_id) for e in events_ if e.object_type and e.object_id}
    pairs |= {p for e in events_ if e.verb.endswith(".share") and (p := _principal(e.data))}
    names = _names(pairs, viewer, visible_collections=visible_collections)
    out = []
    for e in events_:
        actor = e.actor
        named = names.get((e.object_type, e.object_id))
        type_label = object_type_label(e.object_type)
        collection_name = ""
        if asset is not None and e.object_type == "assets.collection":
            collection_name = named.label if named else ""
        if named is not None:
            object_label, url, gone = named.label, named.url, named.gone
        elif e.object_id:
            object_label, url = f"{type_label} #{e.object_id}", ""
            hidden = visible_collections is not None and e.object_type == "assets.collection"
            gone = "" if hidden else "deleted"
            if hidden:
                object_label = "A collection"
        else:
            object_label, url, gone = ("—" if not e.object_type else type_label), "", ""
        out.append(
            Row(
                event=e,
                at=e.at,
                actor_id=e.actor_id,
                actor_label=_actor_label(e),
                actor_email=actor.email if actor else "",
                actor_inactive=bool(actor and actor.status == UserStatus.INACTIVE),
                verb=e.verb,
                action=_sentence(
                    e, collection_name=collection_name, in_history=asset is not None, names=names
                ),
                group=verb_group(e.verb),
                object_type=e.object_type,
                object_type_label=type_label,
                object_id=e.object_id,
                object_label=object_label,
                object_url=url,
                object_gone=gone,
                ip=e.ip or "",
            )
        )
    return out


def _actor_label(event: AuditEvent) -> str:
    if event.actor is not None:
        return _user_label(event.actor)
    data = event.data if isinstance(event.data, dict) else {}
    return "Someone with a public link" if data.get("via") == "public link" else "System"


def history_rows(events_: Iterable[AuditEvent], viewer, *, asset) -> list[Row]:
    """Rows for an asset's History: collections show by name only to people who see
    them (admin roles see all)."""
    events_ = list(events_)
    visible = None
    if not policy.is_admin_role(viewer):
        from assets.models import Collection

        ids = [
            int(e.object_id)
            for e in events_
            if e.object_type == "assets.collection" and e.object_id.isdigit()
        ]
        visible = set(
            policy.visible_collections(viewer, Collection.objects.filter(pk__in=ids)).values_list(
                "pk", flat=True
            )
        )
    return rows(events_, viewer, asset=asset, visible_collections=visible)


USER_LIST_MAX = 500  # more users than this: the page's picker suggests as you type
_TAGGED_USER = re.compile(r"#(\d{1,19})\s*$")


def user_choices(limit: int | None = None) -> list[tuple[int, str, bool]]:
    """Everyone who may have acted, inactive users too: (id, label, inactive), active
    users first, then by name (at most `limit` read)."""
    from accounts.models import User

    users = User.objects.only("id", "email", "first_name", "last_name", "status")
    users = users.order_by("first_name", "last_name", "email")
    out = [
        (u.pk, f"{_user_label(u)} ({u.email})" if u.get_full_name() else u.email, u.status)
        for u in (users[:limit] if limit is not None else users)
    ]
    return [
        (pk, label, status == UserStatus.INACTIVE)
        for pk, label, status in sorted(out, key=lambda r: r[2] == UserStatus.INACTIVE)
    ]


def user_picker(filters: Filters) -> dict:
    """The page's user filter: a list of every user when there are few; beyond
    USER_LIST_MAX, a field that suggests users as you type (the list would be too long
    to load or to use), showing the chosen user."""
    from accounts.models import User

    users = user_choices(limit=USER_LIST_MAX + 1)
    if len(users) <= USER_LIST_MAX:
        return {"users": users, "user_typed": False}
    chosen = ""
    if filters.actor is not None:
        found = User.objects.filter(pk=filters.actor).first()
        chosen = user_tag(found) if found else str(filters.actor)
    return {"users": [], "user_typed": True, "user_chosen": chosen}


def user_tag(user) -> str:
    """How the typed picker shows a user: "Name <email> #id" (emails alone are not unique:
    an inactive user's may have been taken again)."""
    name = user.get_full_name()
    return f"{name} <{user.email}> #{user.pk}" if name else f"{user.email} #{user.pk}"


def user_suggestions(text: str, limit: int = 20) -> list[tuple[str, bool]]:
    """Users each of whose typed words starts their email, first or last name ("ivy l"
    finds Ivy Left), inactive ones too but after the others: (tag, inactive)."""
    from django.db.models import Case, IntegerField, Value, When

    from accounts.models import User

    words = text.replace("\x00", "").split()[:4]  # a NUL never reaches PostgreSQL
    if not words:
        return []
    match = Q()
    for word in words:
        word = word[:100]
        match &= (
            Q(email__istartswith=word)
            | Q(first_name__istartswith=word)
            | Q(last_name__istartswith=word)
        )
    inactive = When(status=UserStatus.INACTIVE, then=Value(1))
    gone = Case(inactive, default=Value(0), output_field=IntegerField())
    found = (
        User.objects.filter(match)
        .only("id", "email", "first_name", "last_name", "status")
        .order_by(gone, "first_name", "last_name", "email")[:limit]
    )
    return [(user_tag(u), u.status == UserStatus.INACTIVE) for u in found]


def users_by_email(email: str) -> list[int]:
    """Everyone who has had this email address (an inactive user's may be taken again)."""
    from django.db.models.functions import Lower

    from accounts.models import User

    email = email.strip()[:254].lower()
    return list(
        User.objects.annotate(address=Lower("email"))
        .filter(address=email)
        .values_list("pk", flat=True)[:5]
    )


# -- CSV ----------------------------------------------------------------------------
CSV_HEADER = [
    "time_utc",
    "actor_id",
    "actor_email",
    "actor_name",
    "actor_inactive",
    "verb",
    "action",
    "group",
    "object_type",
    "object_id",
    "object_name",
    "object_state",
    "ip",
    "data",
]


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_lines(filters: Filters, viewer, *, limit: int = CSV_MAX_ROWS) -> Iterator[str]:
    """The filtered events as CSV text, streamed: a header, then every matching row (read
    with a server-side cursor in chunks and named a chunk at a time), at most `limit`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    written, truncated = 0, False
    chunk: list[AuditEvent] = []
    for event in events(filters)[: limit + 1].iterator(chunk_size=CSV_CHUNK):
        if written + len(chunk) == limit:  # the row after the last one allowed
            truncated = True
            break
        chunk.append(event)
        if len(chunk) == CSV_CHUNK:
            yield from _csv_chunk(writer, flush, chunk, viewer)
            written += len(chunk)
            chunk = []
    if chunk:
        yield from _csv_chunk(writer, flush, chunk, viewer)
    if truncated:
        writer.writerow([f"# stopped at {limit:,} rows; narrow the filters to export the rest"])
        yield flush()


def _csv_chunk(writer, flush, chunk, viewer) -> Iterator[str]:
    for r in rows(chunk, viewer):
        writer.writerow(
            [
                r.at.astimezone(UTC).isoformat(),
                r.actor_id or "",
                _csv_safe(r.actor_email),
                _csv_safe(r.actor_label if r.actor_id else ""),
                "yes" if r.actor_inactive else "",
                r.verb,
                _csv_safe(r.action),
                r.group,
                r.object_type,
                _csv_safe(r.object_id),
                _csv_safe(r.object_label if r.object_id else ""),
                r.object_gone,
                r.ip,
                json.dumps(r.event.data, sort_keys=True, default=str),
            ]
        )
    yield flush()


def csv_filename(filters: Filters) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"activity-{stamp}.csv"
