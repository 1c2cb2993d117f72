"""No route answers 500, whatever it is sent (API.md: "Never 500 on any input").

The test walks Django's URL resolver, so a route is covered the day it is added. Each
route's path parameters are filled with the ids of real objects (and, one parameter at a
time, with hostile values its converter lets through); it is then sent hostile query
strings by an admin, a plain media-library user and a visitor, and hostile bodies by an
admin: JSON built from each API operation's own schema (wrong types, nulls, huge and NUL
strings, huge numbers, nested objects, arrays for objects, invalid JSON) and form posts
for the pages. Every request runs in a savepoint that is rolled back, so each one sees
the same objects and a database error cannot poison the requests after it. All failures
are collected and reported at once.

Hostile values are sampled (rotated per parameter and per route) rather than crossed, to
keep the run under a minute.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django import forms as django_forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from ninja.operation import PathView

from accounts import services as account_services
from accounts.policy import CollectionLevel
from assets import automation, collection_services, delivery_services, services, uploads
from assets.models import SavedSearch
from dam.testing import (
    AdminFactory,
    GroupFactory,
    UserFactory,
    grant,
    image_bytes,
    make_asset,
    make_folder,
)
from metadata import forms as metadata_forms
from metadata import services as metadata_services

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "assets", "dam", "metadata", "moderation")

# Callbacks from these modules are not the project's request handlers: static files
# and the Django admin (neither is mounted today; the guard keeps them out if they are).
SKIPPED_MODULES = ("django.contrib.admin", "django.contrib.staticfiles", "django.views.static")

# Query-string values: each parameter gets a rotating sample of these.
HOSTILE = [
    "\x00",
    "9" * 5000,
    "-1",
    "1e309",
    "%",
    "' OR 1=1 --",
    "ÿ\u202e\u0000",
    "[]",
    "{}",
    "界" * 3000,
    "0",
    str(2**70),
    "",
    "nan",
    "2025-02-30",
    "created_at>3000y",
    "9999-12-31",
    "a,,b,\x00,",
    "-9223372036854775809",
    "<script>",
]
ROUNDS = 2  # requests per route with every known parameter set at once

# Every query parameter the brief names, on top of those read in the code and the API's.
BRIEF_NAMES = [
    *("q", "page", "page_size", "sort", "order", "from", "to", "since", "until", "period"),
    *("user", "action", "verb", "group", "object_type", "object_id", "tags", "type"),
    *("format", "folder", "expression", "cursor", "exact_count", "scope", "next", "ids"),
]

# Path values a converter lets through, tried one parameter at a time.
HOSTILE_PATH = {
    "int": ["0", str(2**70)],
    "slug": ["0", "x" * 300, "-"],
    "str": ["0", str(2**70), "-1", "abc", "%00", "1e309", quote("ÿ\u202e"), "x" * 3000],
}

# JSON body values by the type the schema asks for, then values of the wrong type.
BODY_HOSTILE = {
    # "\ud800": a lone surrogate, valid JSON but no UTF-8; "w_²": a digit int() refuses.
    "string": ["\x00", "x" * 100_000, "ÿ\u202e\u0000", "' OR 1=1 --", "", "\ud800", "w_²,h_①"],
    "integer": [2**70, -1, 0, 2**63, -(2**63) - 1],
    "number": [1e308, -1.0, float("inf"), float("nan")],
    "boolean": [],
    "array": [
        [2**70],
        ["\x00"],
        [None],
        [{}],
        list(range(5000)),
        [{"type": {}, "field": [], "op": None, "value": {"a": 1}, "values": "x", "id": "x"}],
        [{"type": "show", "values": ["\x00"], "field": "\x00", "op": "equals", "value": "\x00"}],
    ],
    "object": [
        {"\x00": "\x00"},
        {"\ud800": "\ud800"},
        {"a": {"b": {"c": []}}},
        {"x" * 1000: 2**70},
        {"": None},
        {"type": [], "id": "x"},
        {"type": "user", "id": 2**70},
    ],
}
WRONG_TYPES = [None, [], {}, "x", 2**70, True, 1.5, [{"a": 1}], {"a": [1]}]
RAW_BODIES = [
    b"{",
    b"\x00",
    b"null",
    b"[]",
    b'"x"',
    b"1e309",
    b"{}",
    b"\xff\xfe",
    b'{"a": 1e309}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
]

# Bodies Django cannot read: no or an empty multipart boundary, a form that is not UTF-8,
# an unknown charset, more form fields than allowed, more bytes than allowed.
ODD_BODIES = [
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--"),
    ("multipart/form-data; boundary=", b"--\r\n"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n\x00"),
    ("application/x-www-form-urlencoded; charset=utf-16", "é=é".encode("latin-1")),
    ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(2000)).encode()),
    ("application/json; charset=nope", b'{"name": "\xff"}'),
    ("application/json", b'{"name": "' + b"x" * (6 * 1024 * 1024) + b'"}'),
]

NAME_RE = re.compile(
    r"(?:\.get|\.getlist|_text\(\s*\w+\s*,)\(?\s*f?[\"']"
    r"([a-z][\w\-.]*)(\{[^}\"']*\})?([\w\-]*)[\"']"
)
PARAM_RE = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


@dataclass
class Route:
    template: str
    callback: Any
    ops: list = field(default_factory=list)  # django-ninja operations; empty for pages

    @property
    def is_api(self) -> bool:
        return bool(self.ops)

    @property
    def params(self) -> list[tuple[str, str]]:
        return [(m["conv"] or "str", m["name"]) for m in PARAM_RE.finditer(self.template)]


def _walk(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        else:
            assert isinstance(entry, URLPattern)
            # Regex routes would need their own filler: fail rather than skip them.
            assert isinstance(entry.pattern, RoutePattern), f"unhandled pattern {entry}"
            yield prefix + str(entry.pattern), entry.callback


def _routes() -> list[Route]:
    routes: dict[str, Route] = {}
    for template, callback in _walk(get_resolver()):
        if getattr(callback, "__module__", "").startswith(SKIPPED_MODULES):
            continue
        view = None
        if inspect.isfunction(callback):  # django-ninja's views close over their PathView
            view = inspect.getclosurevars(callback).nonlocals.get("self")
        ops = view.operations if isinstance(view, PathView) else []
        # django-ninja mounts one URL pattern per operation of the same path.
        routes.setdefault(template, Route(template, callback, list(ops)))
    return list(routes.values())


def _source_names(text: str, field_ids: list[str]) -> set[str]:
    names = set()
    for prefix, brace, suffix in NAME_RE.findall(text):
        if not brace:
            names.add(prefix + suffix)
        else:
            names.update(f"{prefix}{part}{suffix}" for part in ["0", *field_ids])
    return names


def _form_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    todo = [django_forms.Form, django_forms.BaseFormSet]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in APPS:
                found[sub.__name__] = sub
    return found


def _form_fields(cls) -> set[str]:
    return set(getattr(cls, "base_fields", {}))


def _view_source(callback) -> str:
    target = getattr(callback, "view_class", callback)
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        return ""


def _own_names(route: Route, forms: dict[str, type], field_ids: list[str]) -> set[str]:
    """The parameters this handler reads itself: its operations' query parameters, or
    the names in the view's source and the fields of the forms it builds."""
    if route.is_api:
        names = set()
        for op in route.ops:
            for model in op.models:
                if model.__ninja_param_source__ == "query":
                    names.update(model.__ninja_flatten_map__)
        return names
    source = _view_source(route.callback)
    names = _source_names(source, field_ids)
    for form_name in re.findall(r"\b(\w+(?:Form|FormSet))\(", source):
        if form_name in forms:
            names |= _form_fields(forms[form_name])
    return names


# -- the objects the routes are pointed at ---------------------------------------------
@dataclass
class World:
    admin: Any
    user: Any
    paths: dict[str, list[dict[str, str]]]  # route template -> real parameter combinations
    values: dict[str, str]
    field_ids: list[str]
    token: str


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> World:
    admin = AdminFactory()
    member = UserFactory()
    user = UserFactory()  # a plain media-library user with view on the folder
    group = GroupFactory()
    group.user_set.add(member)
    invited = UserFactory(status="invited")
    with django_capture_on_commit_callbacks(execute=True):
        folder = make_folder("/Fuzz/Inner", actor=admin)
        asset = make_asset(folder, actor=admin, tags=["fuzz"])
        trashed = make_asset(folder, actor=admin, name="gone.png")
        services.asset_delete(actor=admin, asset=trashed)
        binned = make_folder("/Fuzz/Bin", actor=admin)
        services.folder_delete(actor=admin, folder=binned)
    grant(user, folder, "view")
    grant(group, folder, "contribute")
    kind = metadata_services.field_create(
        actor=admin, label="Kind", type="enum", values=["Alpha", "Beta"]
    )
    note = metadata_services.field_create(actor=admin, label="Note", type="string")
    metadata_services.field_create(actor=admin, label="Due", type="date", external_id="due")
    value = kind.values.first()
    rule = metadata_services.rule_create(
        actor=admin,
        field=note,
        name="Show note",
        conditions=[{"field": kind.external_id, "op": "populated"}],
        actions=[{"type": "show"}],
    )
    collection = collection_services.collection_create(actor=admin, name="Fuzz set")
    collection_services.collection_add(actor=admin, collection=collection, ids=[asset.pk])
    collection_services.collection_share(
        actor=admin, collection=collection, principal=group, level=CollectionLevel.VIEW
    )
    link = collection_services.collection_publish(actor=admin, collection=collection)
    preset = services.preset_create(actor=admin, name="fuzz-preset")
    delivery_preset = delivery_services.preset_create(
        actor=admin, name="fuzzthumb", transformation="w_100,h_100,c_fill"
    )
    auto_rule = automation.automation_rule_create(
        actor=admin,
        name="Fuzz rule",
        trigger="date_reached",
        date_field="due",
        days_ahead=3,
        actions=[{"type": "add_tags", "tags": ["due"]}],
    )
    run = automation.automation_run_request(actor=admin, rule=auto_rule)
    saved = SavedSearch.objects.create(user=admin, name="Mine", query="q=fuzz")
    api_token, raw_token = account_services.api_token_create(user=admin, name="fuzz")
    session = uploads.upload_session_create(
        actor=admin, folder=folder, filename="chunked.jpg", size=100
    )
    _, uidb64, set_token = account_services.set_password_path(invited).strip("/").rsplit("/", 2)

    values = {
        "folder_id": folder.pk,
        "asset_id": asset.pk,
        "collection_id": collection.pk,
        "token": link.token,
        "user_id": member.pk,
        "user_pk": member.pk,
        "group_id": group.pk,
        "external_id": kind.external_id,
        "value_id": value.external_id,
        "value_external_id": value.external_id,
        "number": 1,
        "version": 1,
        "spec": "thumb",
        "saved_id": saved.pk,
        "session_id": session.pk,
        "run_id": run.pk,
        "principal_type": "user",
        "principal_id": member.pk,
        "uidb64": uidb64,
        "action": "force-logout",
        "kind": "asset",
    }
    by_prefix = {  # names whose meaning depends on the route
        ("accounts/users/", "pk"): member.pk,
        ("accounts/groups/", "pk"): group.pk,
        ("accounts/profile/tokens/", "pk"): api_token.pk,
        ("library/trash/", "pk"): trashed.pk,
        ("accounts/set-password/", "token"): set_token,
        ("settings/upload-presets/", "name"): preset.name,
        ("api/v1/upload-presets/", "name"): preset.name,
        ("settings/delivery/", "name"): delivery_preset.name,
        ("api/v1/delivery-presets/", "name"): delivery_preset.name,
        ("settings/metadata/rules/", "rule_id"): rule.pk,
        ("api/v1/metadata/rules/", "rule_id"): rule.pk,
        ("settings/automation/", "rule_id"): auto_rule.pk,
        ("api/v1/automation-rules/", "rule_id"): auto_rule.pk,
        ("api/v1/trash/folders/", "folder_id"): binned.pk,
        ("api/v1/folders/<folder_id>/restore", "folder_id"): binned.pk,
        ("api/v1/trash/", "asset_id"): trashed.pk,
        ("api/v1/assets/<asset_id>/restore", "asset_id"): trashed.pk,
    }
    extra_combos = {  # routes worth calling with several real combinations
        "library/trash/<str:kind>/<int:pk>/": [{"kind": "folder", "pk": binned.pk}],
        "accounts/users/<int:pk>/<slug:action>/": [
            {"pk": invited.pk, "action": a} for a in ("resend-invite", "reset-password", "delete")
        ],
        "d/<path:rest>": [
            {"rest": f"{t}/{asset.public_id}"}
            for t in ("w_100,h_80,c_fill", "t_fuzzthumb", "f_auto,q_auto", "w_4000,c_scale")
        ],
        "shares/<principal_type>/<principal_id>": [
            {"principal_type": "group", "principal_id": group.pk}
        ],
    }
    paths: dict[str, list[dict[str, str]]] = {}
    for route in _routes():
        combo = {}
        for _conv, name in route.params:
            special = [v for (p, n), v in by_prefix.items() if n == name and p in route.template]
            if special:
                combo[name] = special[0]
            elif name == "rest":
                combo[name] = asset.public_id
            else:
                assert name in values, f"no real value for <{name}> in {route.template}"
                combo[name] = values[name]
        combos = [combo]
        for key, more in extra_combos.items():
            if key in route.template:
                combos += [{**combo, **m} for m in more]
        paths[route.template] = [{k: str(v) for k, v in c.items()} for c in combos]
    return World(
        admin=admin,
        user=user,
        paths=paths,
        values={k: str(v) for k, v in values.items()},
        field_ids=[kind.external_id, note.external_id, "due"],
        token=raw_token,
    )


# -- building requests ------------------------------------------------------------------
def _fill(template: str, params: dict[str, str]) -> str:
    return "/" + PARAM_RE.sub(lambda m: params[m["name"]], template)


def _resolve(schema: dict, defs: dict) -> dict:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:  # Optional[X]: X
        kinds = [s for s in schema["anyOf"] if s.get("type") != "null"]
        schema = _resolve(kinds[0], defs) if kinds else {}
    return schema


# Plausible values for required body fields, so the hostile field next to them reaches
# the handler's own code rather than stopping at the schema.
PLAUSIBLE = {
    "email": "fuzz@example.com",
    "role": "media_library_user",
    "level": "view",
    "action": "add_tags",
    "decision": "approve",
    "trigger": "folder_entered",
    "match": "all",
    "transformation": "w_100",
    "name": "fuzz-1",
    "label": "Fuzz",
    "filename": "a.jpg",
    "size": 10,
    "expires_in": 3600,
    "query": "q=fuzz",
    "body": "Fuzz",
    "type": "string",
}


def _base_extras(template: str, world: World) -> dict:
    """Fields a handler needs beyond its schema's required ones to accept the base body."""
    if template.endswith("assets/bulk"):
        return {"tags": ["fuzz"]}
    if template.endswith("/rules") and "metadata" in template:
        return {"conditions": [{"field": "note", "op": "populated"}], "actions": [{"type": "show"}]}
    if template.endswith("automation-rules"):
        return {
            "folder": int(world.values["folder_id"]),
            "actions": [{"type": "add_tags", "tags": ["fuzz"]}],
        }
    return {}


def _base_value(name: str, schema: dict, defs: dict, world: World):
    schema = _resolve(schema, defs)
    ids = {
        "folder": world.values["folder_id"],
        "parent": world.values["folder_id"],
        "ids": [world.values["asset_id"]],
        "members": [world.values["user_id"]],
        "groups": [world.values["group_id"]],
    }
    if name in ids:
        value = ids[name]
        return [int(v) for v in value] if isinstance(value, list) else int(value)
    if name == "principal":
        return {"type": "user", "id": int(world.values["user_id"])}
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        return _required(schema, defs, world)
    if name in PLAUSIBLE and kind in ("string", "integer", None):
        return PLAUSIBLE[name]
    defaults = {"string": "fuzz", "integer": 1, "number": 1, "boolean": False, "array": []}
    return defaults.get(kind, {})


def _required(schema: dict, defs: dict, world: World) -> dict:
    return {
        k: _base_value(k, v, defs, world)
        for k, v in schema["properties"].items()
        if k in schema.get("required", ())
    }


def _json_bodies(op, world: World, salt: int, template: str):
    """(label, body) pairs for one operation: raw junk; its schema's required fields with
    plausible values; that base plus one field at a time made hostile (each value of
    the field's own type and two of the wrong type); every field at once."""
    body_models = [m for m in op.models if m.__ninja_param_source__ == "body"]
    if not body_models:  # the handler never reads a body: a sample is enough
        for raw in RAW_BODIES[salt % len(RAW_BODIES)], RAW_BODIES[-1]:
            yield f"raw {raw[:20]!r}", raw
        yield "junk object", {"junk": "\x00", "ids": [2**70], "name": "x" * 100_000}
        return
    for raw in RAW_BODIES:
        yield f"raw {raw[:20]!r}", raw
    schema = body_models[0].model_json_schema()
    defs = schema.get("$defs", {})
    props = schema.get("properties", {})
    if len(props) == 1:  # a single body parameter is the whole body
        body_schema = _resolve(next(iter(props.values())), defs)
    else:
        body_schema = {"type": "object", "properties": props, "required": list(props)}
    if body_schema.get("type") != "object" or "properties" not in body_schema:
        kind = body_schema.get("type", "")
        for value in BODY_HOSTILE.get(kind, []) + WRONG_TYPES:
            yield f"whole body {value!r:.60}", value
        yield "base", _base_value("payload", body_schema, defs, world)
        return
    fields = body_schema["properties"]
    base = {**_required(body_schema, defs, world), **_base_extras(template, world)}
    yield "base", base
    yield "object for the body", [base]
    for index, (name, field_schema) in enumerate(fields.items()):
        field_schema = _resolve(field_schema, defs)
        typed = BODY_HOSTILE.get(field_schema.get("type", ""), [])
        rotate = [WRONG_TYPES[(salt + index + k) % len(WRONG_TYPES)] for k in (0, 3)]
        for value in typed + rotate if typed else WRONG_TYPES[:4] + rotate:
            yield f"{name}={value!r:.60}", {**base, name: value}
        if "properties" in field_schema:  # a nested object: each of its fields in turn
            inner = _base_value(name, field_schema, defs, world)
            for key in field_schema["properties"]:
                for value in (None, "\x00", 2**70, []):
                    yield f"{name}.{key}={value!r}", {**base, name: {**inner, key: value}}
    for value in [*WRONG_TYPES[:4], "\x00", "x" * 100_000]:
        yield f"every field={value!r:.40}", dict.fromkeys(fields, value)


def _multipart_bodies(op, world: World):
    names = []
    for model in op.models:
        if model.__ninja_param_source__ in ("form", "file"):
            names += list(getattr(model, "__ninja_flatten_map__", None) or model.model_fields)
    image = SimpleUploadedFile  # fresh each time: a file object is read once

    def base():
        return {"file": image("fuzz.jpg", image_bytes(64, 48)), "folder": world.values["folder_id"]}

    yield "base", base()
    yield "no file", {"folder": world.values["folder_id"]}
    yield "junk file", {"file": image("junk.jpg", b"\x00" * 64)}
    yield "empty file", {"file": image("empty.png", b"")}
    yield "hostile name", {**base(), "file": image("\u202e" + "x" * 300 + ".jpg", image_bytes())}
    for index, name in enumerate(n for n in names if n != "file"):
        for value in (HOSTILE[index % len(HOSTILE)], "\x00", "[1]", '{"a": {"b": []}}', "x" * 5000):
            yield f"{name}={value!r:.40}", {**base(), name: value}


# -- sending ---------------------------------------------------------------------------
class _LastError(logging.Handler):
    """The exception the API's catch-all handler logged (it answers 500 itself)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.last = ""

    def emit(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.last = f"{type(exc).__name__}: {str(exc)[:200]}"


class Fuzzer:
    def __init__(self, world: World):
        self.failures: list[tuple] = []
        self.route = ""
        self.count = 0
        self.admin = self._client(world.admin)
        self.user = self._client(world.user)
        self.anon = Client()
        self.bearer = Client(headers={"Authorization": f"Bearer {world.token}"})
        # The other clients skip CSRF checks, as Django's test client does; this one makes
        # them, so the CSRF failure answers are exercised too.
        self.csrf = self._client(world.admin, enforce_csrf_checks=True)
        self.errors = _LastError()

    @staticmethod
    def _client(user, **kwargs) -> Client:
        client = Client(**kwargs)
        client.force_login(user)
        return client

    def send(self, who: str, method: str, path: str, *, label: str = "", **kwargs):
        """One request in a rolled-back savepoint; a status >= 500 is remembered. With
        `raw`, the bytes go out as they are (the test client would re-encode them)."""
        client = getattr(self, who)
        saved = client.cookies
        client.cookies = type(saved)(saved)  # a log-out in a request must not stick
        self.errors.last = ""
        self.count += 1
        with transaction.atomic():
            try:
                if "raw" in kwargs:
                    extra = {k: v for k, v in kwargs.items() if k != "raw"}
                    response = client.generic(method, path, kwargs["raw"], **extra)
                else:
                    response = getattr(client, method.lower())(path, **kwargs)
                status = response.status_code
                if getattr(response, "streaming", False):
                    # The test client closes a streamed response once it is consumed
                    # (closing it again would close the database connection).
                    for _chunk in response.streaming_content:
                        pass
                detail = self.errors.last or (
                    response.content[:200].decode(errors="replace")
                    if status >= 500 and not response.streaming
                    else ""
                )
            except Exception as exc:  # the test client re-raises what a view raised
                status, detail = 500, f"{type(exc).__name__}: {str(exc)[:200]}"
            transaction.set_rollback(True)
        client.cookies = saved
        if status >= 500:
            shown = {
                k: (v if len(repr(v)) < 80 else f"{repr(v)[:60]}...") for k, v in kwargs.items()
            }
            example = f"{method} {path[:150]} as {who} [{label}] {shown}"
            self.failures.append((method, self.route, detail[:120], status, example))


def _sample(values: list, salt: int, n: int) -> list:
    return [values[(salt + k) % len(values)] for k in range(n)]


def _query_round(names: list[str], k: int, salt: int) -> dict[str, str]:
    return {name: HOSTILE[(i + k + salt) % len(HOSTILE)] for i, name in enumerate(names)}


def _get(fz: Fuzzer, route: Route, world: World, names: list[str], own: set[str], salt: int):
    combos = world.paths[route.template]
    path = _fill(route.template, combos[0])
    for who in ("admin", "user", "anon"):
        fz.send(who, "GET", path, label="plain")
        rounds = range(ROUNDS) if who == "admin" else [salt % ROUNDS]
        for k in rounds:
            fz.send(who, "GET", path, label=f"round {k}", query_params=_query_round(names, k, salt))
    for combo in combos[1:]:
        fz.send("admin", "GET", _fill(route.template, combo), label="plain")
    fz.send("admin", "GET", path, label="lists", query_params={n: ["1", "\x00"] for n in names})
    for i, name in enumerate(sorted(own)):
        for value in ("\x00", HOSTILE[(i + salt) % len(HOSTILE)]):
            fz.send("admin", "GET", path, label="one", query_params={name: value})
    if route.is_api:
        for header in ("Bearer \x00", "Bearer " + "x" * 5000, "Basic ÿ", "Bearer"):
            fz.send("anon", "GET", path, label="auth", headers={"Authorization": header})


def _hostile_paths(route: Route, world: World, salt: int):
    base = world.paths[route.template][0]
    for index, (conv, name) in enumerate(route.params):
        if conv == "path":
            pid = base[name].rsplit("/", 1)[-1]
            values = [
                "%00",
                "x" * 3000,
                f"w_99999999999999999999/{pid}",
                f"w_0,h_0/{pid}",
                f"q_1000/{pid}",
                f"f_tiff/{pid}",
                f"t_nope/{pid}",
                f"c_fill,c_fit/{pid}",
                f"w_100/{pid}/extra",
                f"{pid}.jpg",
                f"t_{'x' * 300}/{pid}",
                f"w_1e309/{pid}",
            ]
        elif conv in ("int", "slug"):
            values = HOSTILE_PATH[conv]
        else:
            pool = HOSTILE_PATH["str"]
            values = [pool[(salt + index + k) % len(pool)] for k in range(4)]
        for value in values:
            yield f"<{name}>={value[:30]}", _fill(route.template, {**base, name: value})


def _writes(fz: Fuzzer, route: Route, world: World, post_names: list[str], own: set[str], salt):
    combos = world.paths[route.template]
    path = _fill(route.template, combos[0])
    if route.is_api:
        for op in route.ops:
            for method in op.methods:
                if method == "GET":
                    continue
                multipart = any(m.__ninja_param_source__ in ("form", "file") for m in op.models)
                if multipart:
                    for label, body in _multipart_bodies(op, world):
                        fz.send("bearer", method, path, label=label, data=body)
                    bodies = [("base", {})]
                else:
                    bodies = list(_json_bodies(op, world, salt, route.template))
                    for label, body in bodies:
                        if isinstance(body, bytes):
                            kwargs = {"data": body, "content_type": "application/json"}
                        else:
                            kwargs = {
                                "data": json.dumps(body, allow_nan=True),
                                "content_type": "application/json",
                            }
                        fz.send("bearer", method, path, label=label, **kwargs)
                    fz.send("bearer", method, path, label="form", data={"a": "\x00"})
                # Django reads bodies alike everywhere: a rotating sample per operation,
                # every kind for the multipart upload.
                for content_type, raw in ODD_BODIES if multipart else _sample(ODD_BODIES, salt, 3):
                    fz.send(
                        "bearer",
                        method,
                        path,
                        label=content_type,
                        raw=raw,
                        content_type=content_type,
                    )
                base = next((b for label, b in bodies if label == "base"), {})
                fz.send(
                    "csrf", method, path, label="csrf", data=base, content_type="application/json"
                )
                for label, hostile in _hostile_paths(route, world, salt):
                    fz.send(
                        "bearer",
                        method,
                        hostile,
                        label=label,
                        data=json.dumps(base),
                        content_type="application/json",
                    )
                for combo in combos[1:]:
                    fz.send(
                        "bearer",
                        method,
                        _fill(route.template, combo),
                        label="combo",
                        data=json.dumps(base),
                        content_type="application/json",
                    )
        return
    fz.send("admin", "POST", path, label="empty", data={})
    fz.send("csrf", "POST", path, label="csrf", data=_query_round(post_names, salt, 0))
    for k in range(ROUNDS):
        fz.send("admin", "POST", path, label=f"round {k}", data=_query_round(post_names, k, salt))
    fz.send("admin", "POST", path, label="lists", data={n: ["1", "\x00"] for n in post_names})
    fz.send(
        "admin",
        "POST",
        path,
        label="urlencoded",
        data="&".join(f"{quote(n)}=%00%FF" for n in post_names),
        content_type="application/x-www-form-urlencoded",
    )
    for i, name in enumerate(sorted(own)):
        for value in ("\x00", HOSTILE[(i + salt) % len(HOSTILE)]):
            fz.send("admin", "POST", path, label="one", data={name: value})
    for content_type, raw in _sample(ODD_BODIES, salt, 2):
        fz.send("admin", "POST", path, label=content_type, raw=raw, content_type=content_type)
    fz.send(  # the partials some views answer to htmx
        "admin",
        "POST",
        path,
        label="htmx",
        data=_query_round(post_names, salt, 0),
        headers={"HX-Request": "true"},
    )
    for combo in combos[1:]:
        fz.send("admin", "POST", _fill(route.template, combo), label="combo", data={})
    method = ("PUT", "PATCH", "DELETE")[salt % 3]
    fz.send("admin", method, path, label="junk", data="a=%00", content_type="text/plain")
    for label, hostile in _hostile_paths(route, world, salt):
        fz.send("admin", "POST", hostile, label=label, data=_query_round(post_names, 0, salt))


def test_no_route_answers_500(world, caplog):
    # Thousands of expected 4xx warnings, and tracebacks of refused redirects.
    caplog.set_level(logging.ERROR, logger="django.request")
    caplog.set_level(logging.CRITICAL, logger="django.security")
    routes = _routes()
    assert len(routes) > 150, "the resolver walk lost routes"
    forms = _form_classes()
    code = "\n".join(
        p.read_text()
        for app in APPS
        for p in (ROOT / app).rglob("*.py")
        if "tests" not in p.parts and "migrations" not in p.parts
    )
    read_names = _source_names(code, world.field_ids)
    api_names = {name for r in routes for name in _own_names(r, forms, world.field_ids)}
    form_names = set().union(*(_form_fields(cls) for cls in forms.values()))
    formset = {"form-TOTAL_FORMS", "form-INITIAL_FORMS", "form-MAX_NUM_FORMS", "form-0-email"}
    metadata_names = {metadata_forms.SHOWN, metadata_forms.CLEAR} | {
        metadata_forms.input_name(f) for f in world.field_ids
    }
    query_names = sorted(set(BRIEF_NAMES) | read_names | api_names | {"token", "expires"})
    post_names = sorted(read_names | form_names | formset | metadata_names)

    fz = Fuzzer(world)
    api_log = logging.getLogger("dam.api")
    api_log.addHandler(fz.errors)
    try:
        for salt, route in enumerate(routes):
            fz.route = route.template
            own = _own_names(route, forms, world.field_ids)
            _get(fz, route, world, query_names, own, salt)
            for label, hostile in _hostile_paths(route, world, salt):
                fz.send("admin", "GET", hostile, label=label)
            _writes(fz, route, world, post_names, own, salt)
    finally:
        api_log.removeHandler(fz.errors)

    assert fz.count > 3000
    # One line per route, method and error, with its first example and how often.
    grouped: dict[tuple, list] = {}
    for method, template, detail, status, example in fz.failures:
        grouped.setdefault((method, template, detail, status), []).append(example)
    lines = [
        f"{method} /{template} -> {status} {detail}\n    e.g. {examples[0]} (x{len(examples)})"
        for (method, template, detail, status), examples in grouped.items()
    ]
    assert not lines, f"{len(fz.failures)} of {fz.count} requests answered >= 500:\n" + "\n".join(
        lines
    )


# -- what the walk found: each cause pinned down on its own --------------------------------
def _admin_client(client):
    admin = AdminFactory()
    client.force_login(admin)
    return admin


def test_asset_move_targets_ignore_a_nul(client):
    admin = _admin_client(client)
    make_folder("/Targets", actor=admin)
    response = client.get("/library/move-targets/", {"q": "Tar\x00gets"})
    assert response.status_code == 200 and b"/Targets" in response.content


def test_collection_shares_name_groups_and_users(client):
    admin = _admin_client(client)
    group = GroupFactory(name="Editors")
    someone = UserFactory(first_name="Dana", last_name="Share")
    collection = collection_services.collection_create(actor=admin, name="Launch")
    for principal in (group, someone):
        collection_services.collection_share(
            actor=admin, collection=collection, principal=principal, level=CollectionLevel.VIEW
        )
    response = client.get(f"/collections/{collection.pk}/shares/")
    assert response.status_code == 200
    assert b"Editors" in response.content and b"Dana Share" in response.content


@pytest.mark.parametrize("target", ["0", "a,,b", "moderation", "https://evil.example/", ""])
def test_moderation_goes_back_only_to_a_path_on_this_site(client, target):
    _admin_client(client)
    response = client.post("/moderation/decide/", {"ids": "1", "next": target})
    assert response.status_code == 302 and response["Location"] == "/moderation/"
    response = client.post("/moderation/decide/", {"ids": "1", "next": "/library/?a=1"})
    assert response["Location"] == "/library/?a=1"


@pytest.mark.parametrize("query", [{"action": "nope"}, {"verb": "nope"}, {"group": "nope"}])
def test_activity_page_shows_a_bad_action_filter(client, query):
    _admin_client(client)
    response = client.get("/activity/", query)
    assert response.status_code == 200
    assert b'id="activity-action-error"' in response.content and b"Unknown" in response.content


@pytest.mark.parametrize("query", [{"role": "\x00"}, {"status": "\x00"}, {"role": "nope"}])
def test_users_api_unknown_role_or_status_matches_nobody(client, query):
    _admin_client(client)
    response = client.get("/api/v1/users", query)
    assert response.status_code == 200 and response.json()["count"] == 0
    assert client.get("/api/v1/users", {"role": "master_admin"}).json()["count"] == 1


def test_delivery_preset_names_with_a_nul_or_too_long_are_404(client):
    admin = AdminFactory()
    _, raw = account_services.api_token_create(user=admin, name="t")
    auth = {"Authorization": f"Bearer {raw}"}
    delivery_services.preset_create(actor=admin, name="p" * 50, transformation="w_10")
    body = json.dumps({"transformation": "w_20"})
    for name in ("%00", "p" * 51):  # the longer one once matched its first 50 characters
        url = f"/api/v1/delivery-presets/{name}"
        response = client.patch(url, body, content_type="application/json", headers=auth)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
        assert client.delete(url, headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("url", "content_type", "raw", "status"),
    [
        ("/api/v1/folders", "application/json", b'{"name": "' + b"x" * (6 << 20) + b'"}', 413),
        ("/api/v1/assets", "multipart/form-data", b"--x\r\n\r\n--x--", 400),
        ("/api/v1/assets", "multipart/form-data; boundary=", b"--\r\n", 400),
        ("/api/v1/assets", "application/x-www-form-urlencoded; charset=utf-16", b"\xe9=1", 400),
        ("/api/v1/assets", "application/x-www-form-urlencoded", b"a=1&" * 2000, 400),
        # A lone surrogate: valid JSON, but no UTF-8 for PostgreSQL.
        ("/api/v1/saved-searches", "application/json", b'{"name": "\\ud800", "query": ""}', 400),
        ("/api/v1/folders", "application/json", b'{"name": "a", "\\udfff": 1}', 400),
    ],
)
def test_api_bodies_django_cannot_read_are_4xx(client, url, content_type, raw, status):
    admin = AdminFactory()
    _, token = account_services.api_token_create(user=admin, name="t")
    response = client.generic(
        "POST", url, raw, content_type=content_type, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == status
    assert response.json()["code"] == {400: "bad_request", 413: "too_large"}[status]
