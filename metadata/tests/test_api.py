"""The metadata API (API.md "Metadata"): fields, values, rules, evaluate.

Permissions in pairs, the error shape on every refusal, hostile input never a 500.
"""

from __future__ import annotations

import json

import pytest

from accounts.models import Role
from accounts.services import api_token_create
from dam.testing import UserFactory
from metadata import services
from metadata.models import MetadataField, MetadataRule, MetadataValue

pytestmark = pytest.mark.django_db

API = "/api/v1"
FIELD_KEYS = {
    "external_id",
    "label",
    "type",
    "position",
    "mandatory",
    "hidden",
    "default",
    "min",
    "max",
    "has_rules",
    "value_count",
    "values",
    "created_at",
    "updated_at",
}
VALUE_KEYS = {"external_id", "label", "position", "blocked"}
RULE_KEYS = {
    "id",
    "field",
    "name",
    "position",
    "match",
    "conditions",
    "actions",
    "summary",
    "created_at",
    "updated_at",
}
STATE_KEYS = {"visible", "mandatory", "options", "default"}


# -- helpers --------------------------------------------------------------------------
def error(response, status: int, code: str | None = None) -> dict:
    """Assert the API.md error shape and return the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    expected = {"detail", "code", "errors"} if status == 422 else {"detail", "code"}
    assert set(body) == expected, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code
    if status == 422:
        assert isinstance(body["errors"], dict) and body["errors"]
        for key, messages in body["errors"].items():
            assert isinstance(key, str)
            assert messages and all(isinstance(m, str) and m for m in messages)
    return body


def ok(response, status: int = 200):
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def post(client, path, data, **kwargs):
    return client.post(f"{API}{path}", data, content_type="application/json", **kwargs)


def patch(client, path, data, **kwargs):
    return client.patch(f"{API}{path}", data, content_type="application/json", **kwargs)


def put(client, path, data, **kwargs):
    return client.put(f"{API}{path}", data, content_type="application/json", **kwargs)


def get(client, path, **kwargs):
    return client.get(f"{API}{path}", **kwargs)


def delete(client, path, **kwargs):
    return client.delete(f"{API}{path}", **kwargs)


def evaluate(client, values, **extra) -> dict:
    body = ok(post(client, "/metadata/evaluate", {"values": values, **extra}))
    assert set(body) == {"fields", "values"}
    for state in body["fields"].values():
        assert set(state) == STATE_KEYS
    return body


def states(client, values, **extra) -> dict:
    return evaluate(client, values, **extra)["fields"]


@pytest.fixture
def as_master(client, master):
    client.force_login(master)
    return client


# -- authentication and permissions ---------------------------------------------------
ROUTES = [
    ("get", "/metadata/fields"),
    ("post", "/metadata/fields"),
    ("get", "/metadata/fields/category"),
    ("patch", "/metadata/fields/category"),
    ("delete", "/metadata/fields/category"),
    ("get", "/metadata/fields/category/values"),
    ("post", "/metadata/fields/category/values"),
    ("patch", "/metadata/fields/category/values/employee"),
    ("get", "/metadata/fields/team/rules"),
    ("post", "/metadata/fields/team/rules"),
    ("put", "/metadata/fields/team/rules/order"),
    ("get", "/metadata/rules/RULE"),
    ("patch", "/metadata/rules/RULE"),
    ("delete", "/metadata/rules/RULE"),
    ("post", "/metadata/evaluate"),
]
WRITES = [
    ("post", "/metadata/fields", {"label": "New", "type": "string"}),
    ("patch", "/metadata/fields/category", {"label": "Kind"}),
    ("delete", "/metadata/fields/person", None),
    ("post", "/metadata/fields/category/values", {"label": "Partner"}),
    ("patch", "/metadata/fields/category/values/employee", {"label": "Staff"}),
    (
        "post",
        "/metadata/fields/team/rules",
        {
            "name": "Customers too",
            "conditions": [{"field": "category", "op": "equals", "value": "customer"}],
            "actions": [{"type": "show"}],
        },
    ),
    ("put", "/metadata/fields/person/rules/order", "ORDER"),
    ("patch", "/metadata/rules/RULE", {"name": "Renamed"}),
    ("delete", "/metadata/rules/RULE", None),
]


def _call(client, method, path, data, three_levels):
    path = path.replace("RULE", str(three_levels["rules"]["team"].pk))
    if data == "ORDER":
        data = [three_levels["rules"]["devops"].pk, three_levels["rules"]["qa"].pk]
    if method in ("get", "delete"):
        return getattr(client, method)(f"{API}{path}")
    return getattr(client, method)(
        f"{API}{path}", json.dumps(data or {}), content_type="application/json"
    )


def _definitions() -> tuple:
    """Everything the writes could change."""
    return (
        list(MetadataField.all_objects.values_list("external_id", "label", "deleted_at")),
        list(MetadataValue.objects.values_list("external_id", "label", "position")),
        list(MetadataRule.objects.values_list("pk", "name", "position")),
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_credentials(client, three_levels, method, path):
    before = _definitions()
    response = _call(client, method, path, {"label": "X"}, three_levels)
    error(response, 401, "not_authenticated")
    assert _definitions() == before


@pytest.mark.parametrize(("method", "path"), ROUTES[:1] + ROUTES[-1:])
def test_a_bad_bearer_token_is_401(client, three_levels, method, path):
    headers = {"Authorization": "Bearer not-a-real-token"}
    if method == "get":
        response = client.get(f"{API}{path}", headers=headers)
    else:
        response = post(client, path, {"values": {}}, headers=headers)
    error(response, 401, "not_authenticated")


def test_bearer_token_of_a_master_admin_reads_and_writes(client, three_levels, master):
    _, raw = api_token_create(user=master, name="meta")
    headers = {"Authorization": f"Bearer {raw}"}
    listed = ok(get(client, "/metadata/fields", headers=headers))
    assert [f["external_id"] for f in listed["results"]] == ["category", "team", "role", "person"]
    created = post(
        client, "/metadata/fields", {"label": "Caption", "type": "string"}, headers=headers
    )
    assert ok(created, 201)["external_id"] == "caption"


@pytest.mark.parametrize(("method", "path", "data"), WRITES)
@pytest.mark.parametrize("role", [Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_USER])
def test_only_master_admins_write(client, three_levels, method, path, data, role):
    before = _definitions()
    client.force_login(UserFactory(role=role))
    body = error(_call(client, method, path, data, three_levels), 403, "forbidden")
    assert "master admin" in body["detail"]
    assert _definitions() == before


@pytest.mark.parametrize(("method", "path", "data"), WRITES)
def test_the_master_admin_writes(client, three_levels, master, method, path, data):
    """The pair of the test above: the same requests succeed for a master admin."""
    before = _definitions()
    client.force_login(master)
    response = _call(client, method, path, data, three_levels)
    assert response.status_code in (200, 201, 204), response.content
    assert _definitions() != before


@pytest.mark.parametrize(
    "role",
    [
        Role.MASTER_ADMIN,
        Role.ADMIN,
        Role.TECHNICAL_ADMIN,
        Role.MEDIA_LIBRARY_ADMIN,
        Role.MEDIA_LIBRARY_USER,
    ],
)
def test_library_roles_read_the_definitions(client, three_levels, role):
    client.force_login(UserFactory(role=role))
    assert ok(get(client, "/metadata/fields"))["count"] == 4
    assert ok(get(client, "/metadata/fields/role"))["label"] == "Role"
    assert len(ok(get(client, "/metadata/fields/category/values"))["results"]) == 2
    assert len(ok(get(client, "/metadata/fields/person/rules"))) == 2
    rule = three_levels["rules"]["role"]
    assert ok(get(client, f"/metadata/rules/{rule.pk}"))["name"] == "R&D has roles"
    assert states(client, {"category": "employee"})["team"]["visible"] is True


@pytest.mark.parametrize("role", [Role.REPORTS, Role.BILLING])
def test_reports_and_billing_do_not_read_the_definitions(client, three_levels, role):
    client.force_login(UserFactory(role=role))
    rule = three_levels["rules"]["role"]
    for path in (
        "/metadata/fields",
        "/metadata/fields/role",
        "/metadata/fields/category/values",
        "/metadata/fields/person/rules",
        f"/metadata/rules/{rule.pk}",
    ):
        error(get(client, path), 403, "forbidden")
    error(post(client, "/metadata/evaluate", {"values": {}}), 403, "forbidden")
    # Not even whether a field exists: an unknown one answers the same.
    error(get(client, "/metadata/fields/no_such_field"), 403, "forbidden")


def test_an_inactive_user_cannot_read(client, three_levels):
    from accounts.models import UserStatus

    user = UserFactory(status=UserStatus.INACTIVE)
    client.force_login(user)
    response = get(client, "/metadata/fields")
    assert response.status_code in (401, 403), response.content
    error(response, response.status_code)


# -- fields: list -----------------------------------------------------------------------
def test_fields_list_in_order_with_values(as_master, three_levels):
    body = ok(get(as_master, "/metadata/fields"))
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    for item in body["results"]:
        assert set(item) == FIELD_KEYS
    assert [f["external_id"] for f in body["results"]] == ["category", "team", "role", "person"]
    assert [f["position"] for f in body["results"]] == [1, 2, 3, 4]
    category, team, _, person = body["results"]
    assert (category["type"], category["hidden"], category["has_rules"]) == ("enum", False, False)
    assert (team["hidden"], team["has_rules"]) == (True, True)
    assert category["values"] == [
        {"external_id": "employee", "label": "Employee", "position": 1, "blocked": False},
        {"external_id": "customer", "label": "Customer", "position": 2, "blocked": False},
    ]
    assert category["value_count"] == 2
    assert person["type"] == "set"
    assert [v["external_id"] for v in person["values"]] == [
        "john_smith",
        "jane_kelly",
        "paul_green",
        "mary_rose",
    ]


def test_fields_list_without_values_keeps_the_counts(as_master, three_levels):
    body = ok(get(as_master, "/metadata/fields?values=false"))
    assert [f["values"] for f in body["results"]] == [[], [], [], []]
    assert [f["value_count"] for f in body["results"]] == [2, 2, 2, 4]
    assert [f["has_rules"] for f in body["results"]] == [False, True, True, True]


def test_fields_list_is_paginated(as_master, master):
    for n in range(5):
        services.field_create(actor=master, label=f"Field {n}", type="string")
    first = ok(get(as_master, "/metadata/fields?page_size=2"))
    assert first["count"] == 5
    assert [f["label"] for f in first["results"]] == ["Field 0", "Field 1"]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    second = ok(as_master.get(first["next"]))
    assert [f["label"] for f in second["results"]] == ["Field 2", "Field 3"]
    assert "page=1" in second["previous"]
    last = ok(get(as_master, "/metadata/fields?page=3&page_size=2&values=false"))
    assert [f["label"] for f in last["results"]] == ["Field 4"]
    assert last["next"] is None
    assert "values=false" in last["previous"]
    beyond = ok(get(as_master, "/metadata/fields?page=9&page_size=2"))
    assert (beyond["count"], beyond["results"]) == (5, [])


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page=abc", "page"),
        ("page=99999999999999999999999", "page"),
        ("values=maybe", "values"),
    ],
)
def test_fields_list_rejects_bad_paging(as_master, three_levels, query, key):
    body = error(get(as_master, f"/metadata/fields?{query}"), 422, "validation_error")
    assert key in body["errors"]


def test_fields_list_page_size_200_is_allowed(as_master, three_levels):
    assert ok(get(as_master, "/metadata/fields?page_size=200"))["count"] == 4


def _query_count(client, django_assert_max_num_queries, bound, path) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with django_assert_max_num_queries(bound), CaptureQueriesContext(connection) as ctx:
        response = get(client, path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("path", "bound"), [("/metadata/fields", 6), ("/metadata/fields?values=false", 5)]
)
def test_fields_list_queries_do_not_grow_with_fields(
    as_master, master, django_assert_max_num_queries, path, bound
):
    """Session + user, count, fields (counts and "has rules" annotated), values prefetched:
    the same number for 3 fields as for 30."""

    def add(start, stop):
        for n in range(start, stop):
            field = services.field_create(
                actor=master, label=f"List {n}", type="enum", values=["A", "B", "C"]
            )
            if n % 2:
                services.rule_create(
                    actor=master,
                    field=field,
                    name=f"Rule {n}",
                    conditions=[{"field": "list_0", "op": "populated"}],
                    actions=[{"type": "hide"}],
                )

    add(0, 3)
    few = _query_count(as_master, django_assert_max_num_queries, bound, path)
    add(3, 30)
    many = _query_count(as_master, django_assert_max_num_queries, bound, path)
    assert many == few, (few, many)
    sep = "&" if "?" in path else "?"
    body = ok(get(as_master, f"{path}{sep}page_size=200"))
    assert body["count"] == 30
    assert len(body["results"]) == 30


# -- fields: create -------------------------------------------------------------------------
def test_create_a_list_field(as_master):
    response = post(
        as_master,
        "/metadata/fields",
        {
            "label": "Licence",
            "type": "enum",
            "values": [{"label": "Free"}, {"label": "Paid", "external_id": "paid-v2"}],
            "default": "Free",
            "mandatory": True,
        },
    )
    body = ok(response, 201)
    assert set(body) == FIELD_KEYS
    assert body["external_id"] == "licence"
    assert body["default"] == "free"  # named by label, stored by value ID
    assert body["mandatory"] is True and body["hidden"] is False
    assert [v["external_id"] for v in body["values"]] == ["free", "paid-v2"]
    assert body["value_count"] == 2 and body["has_rules"] is False
    assert ok(get(as_master, "/metadata/fields/licence")) == body


def test_create_text_number_and_date_fields_with_bounds(as_master):
    text = ok(
        post(as_master, "/metadata/fields", {"label": "Caption", "type": "string", "max": 300}),
        201,
    )
    assert (text["min"], text["max"], text["values"]) == (None, 300, [])
    number = ok(
        post(
            as_master,
            "/metadata/fields",
            {"label": "Rating", "type": "number", "min": 1, "max": "5", "default": 3},
        ),
        201,
    )
    assert (number["min"], number["max"], number["default"]) == (1, 5, 3)
    day = ok(
        post(
            as_master,
            "/metadata/fields",
            {"label": "Shot on", "type": "date", "external_id": "shot", "min": "2000-01-01"},
        ),
        201,
    )
    assert (day["external_id"], day["min"]) == ("shot", "2000-01-01")
    listed = ok(get(as_master, "/metadata/fields"))
    assert [f["position"] for f in listed["results"]] == [1, 2, 3]


def test_a_new_list_without_values_gets_a_placeholder(as_master):
    body = ok(post(as_master, "/metadata/fields", {"label": "Status", "type": "set"}), 201)
    assert [v["label"] for v in body["values"]] == ["Value 1"]


@pytest.mark.parametrize(
    ("payload", "key", "words"),
    [
        (
            {"label": "H", "type": "string", "hidden": True, "mandatory": True, "default": "x"},
            "mandatory",
            "hidden field cannot start mandatory",
        ),
        (
            {"label": "H", "type": "string", "hidden": True, "default": "x"},
            "default",
            "hidden field cannot start with a default",
        ),
        ({"label": "M", "type": "string", "mandatory": True}, "default", "needs a default"),
        ({"label": "T", "type": "text"}, "type", "type is one of"),
        ({"label": "T", "type": ""}, "type", "type is one of"),
        ({"label": "", "type": "string"}, "label", "Enter a label"),
        ({"label": "   ", "type": "string"}, "label", "Enter a label"),
        ({"label": "a\u0000b", "type": "string"}, "label", "NUL"),
        ({"label": "x" * 256, "type": "string"}, "label", "at most 255"),
        ({"label": "x" * 100_000, "type": "string"}, "label", "at most 255"),
        ({"label": "L", "type": "enum", "min": 1}, "min", "no minimum"),
        ({"label": "N", "type": "number", "min": 5, "max": 1}, "min", "larger than"),
        ({"label": "N", "type": "number", "min": "lots"}, "min", "a number"),
        ({"label": "N", "type": "number", "max": 10**30}, "max", "a number"),
        ({"label": "N", "type": "number", "default": 10**30}, "default", "too large"),
        ({"label": "N", "type": "number", "default": "1e400"}, "default", "number"),
        ({"label": "N", "type": "number", "default": True}, "default", "number"),
        ({"label": "S", "type": "string", "max": -1}, "max", "length"),
        ({"label": "S", "type": "string", "max": 10**9}, "max", "length"),
        ({"label": "S", "type": "string", "max": 3, "default": "long"}, "default", "at most 3"),
        ({"label": "D", "type": "date", "min": "yesterday"}, "min", "YYYY-MM-DD"),
        ({"label": "D", "type": "date", "default": "2024-02-30"}, "default", "YYYY-MM-DD"),
        ({"label": "S", "type": "string", "values": ["a"]}, "values", "Only list fields"),
        ({"label": "E", "type": "enum", "values": [1, 2]}, "values", "list of"),
        ({"label": "E", "type": "enum", "values": ["A", "a"]}, "values", "listed twice"),
        ({"label": "E", "type": "enum", "values": [{"label": {"x": 1}}]}, "values", "label"),
        (
            {"label": "E", "type": "enum", "values": [{"label": "A", "external_id": "a b"}]},
            "values",
            "External IDs",
        ),
        ({"label": "E", "type": "enum", "values": ["A"], "default": "Z"}, "default", "not one"),
        ({"label": "E", "type": "set", "values": ["A"], "default": [1]}, "default", "list of"),
        (
            {"label": "E", "type": "enum", "values": [f"v{i}" for i in range(3001)]},
            "values",
            "3,000",
        ),
        ({"label": "X", "type": "string", "external_id": "has space"}, "external_id", "letters"),
        ({"label": "X", "type": "string", "external_id": "_lead"}, "external_id", "letters"),
        ({"label": "X", "type": "string", "external_id": "a\u0000"}, "external_id", "letters"),
        ({"label": "X", "type": "string", "external_id": "a" * 101}, "external_id", "letters"),
    ],
)
def test_bad_field_definitions_are_422(as_master, payload, key, words):
    body = error(post(as_master, "/metadata/fields", payload), 422, "validation_error")
    assert key in body["errors"], body
    assert words in body["detail"], body
    assert not MetadataField.all_objects.exists()


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"type": "string"}, "label"),
        ({"label": "X"}, "type"),
        ({"label": 123, "type": "string"}, "label"),
        ({"label": ["X"], "type": "string"}, "label"),
        ({"label": "X", "type": ["string"]}, "type"),
        ({"label": "X", "type": "string", "mandatory": "maybe"}, "mandatory"),
        ({"label": "X", "type": "string", "hidden": {}}, "hidden"),
        ({"label": "X", "type": "enum", "values": "A,B"}, "values"),
        ({"label": "X", "type": "enum", "values": {"a": 1}}, "values"),
        ({"label": "X", "type": "string", "external_id": 7}, "external_id"),
    ],
)
def test_wrong_json_types_are_422_naming_the_field(as_master, payload, key):
    body = error(post(as_master, "/metadata/fields", payload), 422, "validation_error")
    assert key in body["errors"], body
    assert not MetadataField.all_objects.exists()


@pytest.mark.parametrize("raw", ["[]", '"field"', "1", "null", "true", "[{}]"])
def test_non_object_bodies_are_refused(as_master, raw):
    response = as_master.post(f"{API}/metadata/fields", raw, content_type="application/json")
    assert response.status_code in (400, 422), response.content
    error(response, response.status_code)
    assert not MetadataField.all_objects.exists()


@pytest.mark.parametrize("raw", ["{", '{"label": "X", "type": }', "\u0000", "", "{" * 5000])
def test_malformed_json_is_400_or_422(as_master, raw):
    response = as_master.post(f"{API}/metadata/fields", raw, content_type="application/json")
    assert response.status_code in (400, 422), response.content
    error(response, response.status_code)


def test_duplicate_label_is_refused_case_insensitively(as_master, three_levels):
    body = error(
        post(as_master, "/metadata/fields", {"label": "  CATEGORY ", "type": "string"}),
        409,
        "conflict",
    )
    assert "Category" in body["detail"] or "CATEGORY" in body["detail"]
    assert MetadataField.objects.count() == 4


def test_taken_and_deleted_external_ids_are_409(as_master, three_levels, master):
    error(
        post(
            as_master, "/metadata/fields", {"label": "X", "type": "string", "external_id": "TEAM"}
        ),
        409,
        "conflict",
    )
    services.field_delete(actor=master, field=three_levels["person"])
    body = error(
        post(
            as_master,
            "/metadata/fields",
            {"label": "Person again", "type": "string", "external_id": "person"},
        ),
        409,
        "conflict",
    )
    assert "never reused" in body["detail"]
    # The label of a deleted field is free again, with a new ID.
    created = post(as_master, "/metadata/fields", {"label": "Person", "type": "string"})
    assert ok(created, 201)["external_id"] == "person_2"


# -- fields: get, patch -----------------------------------------------------------------
def test_get_a_field_by_external_id_case_insensitively(as_master, three_levels):
    body = ok(get(as_master, "/metadata/fields/ROLE"))
    assert set(body) == FIELD_KEYS
    assert (body["external_id"], body["hidden"], body["has_rules"]) == ("role", True, True)
    assert [v["label"] for v in body["values"]] == ["QA", "Devops"]


@pytest.mark.parametrize(
    "external_id", ["nope", "a" * 101, "a" * 5000, "%00", "role%00", "..", "%F0%9F%92%A9"]
)
def test_unknown_fields_are_404_on_every_route(as_master, three_levels, external_id):
    before = _definitions()
    base = f"/metadata/fields/{external_id}"
    error(get(as_master, base), 404, "not_found")
    error(patch(as_master, base, {"label": "X"}), 404, "not_found")
    error(delete(as_master, base), 404, "not_found")
    error(get(as_master, f"{base}/values"), 404, "not_found")
    error(post(as_master, f"{base}/values", {"label": "X"}), 404, "not_found")
    error(patch(as_master, f"{base}/values/employee", {"label": "X"}), 404, "not_found")
    error(get(as_master, f"{base}/rules"), 404, "not_found")
    rule = {
        "name": "R",
        "conditions": [{"field": "category", "op": "populated"}],
        "actions": [{"type": "hide"}],
    }
    error(post(as_master, f"{base}/rules", rule), 404, "not_found")
    error(put(as_master, f"{base}/rules/order", []), 404, "not_found")
    assert _definitions() == before


def test_a_deleted_field_is_404(as_master, three_levels, master):
    services.field_delete(actor=master, field=three_levels["person"])
    error(get(as_master, "/metadata/fields/person"), 404, "not_found")
    error(get(as_master, "/metadata/fields/person/rules"), 404, "not_found")
    qa = three_levels["rules"]["qa"].pk
    error(get(as_master, f"/metadata/rules/{qa}"), 404, "not_found")


def test_patch_a_field(as_master, three_levels):
    body = ok(
        patch(
            as_master,
            "/metadata/fields/category",
            {"label": "Kind", "default": "customer", "mandatory": True, "position": 4},
        )
    )
    assert (body["external_id"], body["label"]) == ("category", "Kind")
    assert (body["default"], body["mandatory"], body["position"]) == ("customer", True, 4)
    listed = ok(get(as_master, "/metadata/fields?values=false"))["results"]
    assert [f["external_id"] for f in listed] == ["team", "role", "person", "category"]
    # Only what was sent changes.
    again = ok(patch(as_master, "/metadata/fields/category", {"label": "Category"}))
    assert (again["default"], again["mandatory"], again["position"]) == ("customer", True, 4)


def test_patch_bounds_and_default_of_a_number(as_master, master):
    services.field_create(actor=master, label="Rating", type="number", min=1, max=5)
    body = ok(patch(as_master, "/metadata/fields/rating", {"max": 10, "default": 7}))
    assert (body["min"], body["max"], body["default"]) == (1, 10, 7)
    body = error(patch(as_master, "/metadata/fields/rating", {"max": 5}), 422)
    assert "default" in body["errors"]  # the default 7 no longer fits
    assert ok(get(as_master, "/metadata/fields/rating"))["max"] == 10


def test_external_id_and_type_can_never_change(as_master, three_levels):
    body = error(patch(as_master, "/metadata/fields/team", {"external_id": "squad"}), 422)
    assert "external_id" in body["errors"]
    body = error(patch(as_master, "/metadata/fields/team", {"type": "set"}), 422)
    assert "type" in body["errors"]
    # The same values are accepted.
    ok(patch(as_master, "/metadata/fields/team", {"external_id": "team", "type": "enum"}))
    field = MetadataField.objects.get(pk=three_levels["team"].pk)
    assert (field.external_id, field.type) == ("team", "enum")


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"hidden": True}, "mandatory"),  # Copyright is mandatory
        ({"hidden": True, "mandatory": False}, "default"),  # and has a default
        ({"default": None}, "default"),  # a mandatory field keeps a default
        ({"mandatory": None}, "mandatory"),
        ({"hidden": None}, "hidden"),
        ({"label": None}, "label"),
        ({"label": "Category"}, "label"),
        ({"position": "first"}, "position"),
        ({"min": 1}, "min"),
        ({"default": "maybe"}, "default"),
    ],
)
def test_bad_field_patches_are_refused(as_master, three_levels, master, payload, key):
    services.field_create(
        actor=master,
        label="Copyright",
        type="enum",
        values=["Yes", "No"],
        default="No",
        mandatory=True,
    )
    before = _definitions()
    response = patch(as_master, "/metadata/fields/copyright", payload)
    if key == "label" and payload["label"]:
        error(response, 409, "conflict")
    else:
        body = error(response, 422, "validation_error")
        assert key in body["errors"], body
    assert _definitions() == before
    field = MetadataField.objects.get(external_id="copyright")
    assert (field.mandatory, field.hidden, field.default) == (True, False, "no")


def test_patch_with_a_huge_position_moves_to_the_end(as_master, three_levels):
    body = ok(patch(as_master, "/metadata/fields/category", {"position": 10**30}))
    assert body["position"] == 4
    body = ok(patch(as_master, "/metadata/fields/category", {"position": -(10**30)}))
    assert body["position"] == 1


# -- fields: delete ---------------------------------------------------------------------
def test_delete_a_field_nothing_reads(as_master, three_levels):
    assert delete(as_master, "/metadata/fields/person").status_code == 204
    error(get(as_master, "/metadata/fields/person"), 404)
    listed = ok(get(as_master, "/metadata/fields"))
    assert [f["external_id"] for f in listed["results"]] == ["category", "team", "role"]
    assert [f["position"] for f in listed["results"]] == [1, 2, 3]
    # Its own rules went with it.
    assert not MetadataRule.objects.filter(field=three_levels["person"]).exists()
    assert "person" not in states(as_master, {})


@pytest.mark.parametrize(
    ("external_id", "names"),
    [
        ("category", ["Employees have a team", "Team"]),
        ("team", ["R&D has roles", "Role"]),
        ("role", ["QA people", "Devops people", "Person"]),
    ],
)
def test_delete_a_field_other_rules_read_is_409_naming_them(
    as_master, three_levels, external_id, names
):
    before = _definitions()
    body = error(delete(as_master, f"/metadata/fields/{external_id}"), 409, "conflict")
    for name in names:
        assert name in body["detail"], body
    assert _definitions() == before
    ok(get(as_master, f"/metadata/fields/{external_id}"))


# -- list values ------------------------------------------------------------------------
def test_values_list_is_paged_and_searchable(as_master, three_levels):
    body = ok(get(as_master, "/metadata/fields/person/values?page_size=3"))
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 4 and body["next"] and body["previous"] is None
    for item in body["results"]:
        assert set(item) == VALUE_KEYS
    assert [v["position"] for v in body["results"]] == [1, 2, 3]
    rest = ok(as_master.get(body["next"]))
    assert [v["external_id"] for v in rest["results"]] == ["mary_rose"]
    found = ok(get(as_master, "/metadata/fields/person/values?q=KELLY"))
    assert [v["label"] for v in found["results"]] == ["Jane Kelly"]
    by_id = ok(get(as_master, "/metadata/fields/person/values?q=paul_"))
    assert [v["label"] for v in by_id["results"]] == ["Paul Green"]
    nul = ok(get(as_master, "/metadata/fields/person/values?q=%00"))
    assert nul["count"] == 4
    error(get(as_master, "/metadata/fields/person/values?page_size=500"), 422)


def test_create_a_value_at_the_end_or_at_a_position(as_master, three_levels):
    body = ok(post(as_master, "/metadata/fields/category/values", {"label": "Partner"}), 201)
    assert body == {"external_id": "partner", "label": "Partner", "position": 3, "blocked": False}
    first = post(
        as_master,
        "/metadata/fields/category/values",
        {"label": "Supplier", "external_id": "SUP-1", "position": 1, "blocked": True},
    )
    assert ok(first, 201) == {
        "external_id": "SUP-1",
        "label": "Supplier",
        "position": 1,
        "blocked": True,
    }
    listed = ok(get(as_master, "/metadata/fields/category/values"))["results"]
    assert [v["external_id"] for v in listed] == ["SUP-1", "employee", "customer", "partner"]
    assert ok(get(as_master, "/metadata/fields/category"))["value_count"] == 4
    # Blocked values are not offered.
    assert states(as_master, {})["category"]["options"] == ["employee", "customer", "partner"]


@pytest.mark.parametrize(
    ("payload", "status", "key"),
    [
        ({"label": "employee"}, 409, None),
        ({"label": "Other", "external_id": "EMPLOYEE"}, 409, None),
        ({"label": ""}, 422, "label"),
        ({"label": "a\u0000b"}, 422, "label"),
        ({"label": "x" * 20_000}, 422, "label"),
        ({"label": "Other", "external_id": "no spaces"}, 422, "external_id"),
        ({"label": "Other", "external_id": "x" * 101}, 422, "external_id"),
        ({"label": "Other", "blocked": "maybe"}, 422, "blocked"),
        ({"label": "Other", "position": "top"}, 422, "position"),
        ({"label": 5}, 422, "label"),
        ({}, 422, "label"),
    ],
)
def test_bad_values_are_refused(as_master, three_levels, payload, status, key):
    before = _definitions()
    body = error(post(as_master, "/metadata/fields/category/values", payload), status)
    if key:
        assert key in body["errors"], body
    assert _definitions() == before


def test_only_list_fields_take_values(as_master, master):
    services.field_create(actor=master, label="Caption", type="string")
    body = error(post(as_master, "/metadata/fields/caption/values", {"label": "A"}), 422)
    assert "Only list fields" in body["detail"]
    assert not MetadataValue.objects.exists()


def test_a_list_holds_at_most_3000_values(as_master, master):
    services.field_create(
        actor=master, label="Big", type="enum", values=[f"Value {i}" for i in range(3000)]
    )
    assert ok(get(as_master, "/metadata/fields/big?values=false"))["value_count"] == 3000
    page = ok(get(as_master, "/metadata/fields/big/values?page=15&page_size=200"))
    assert page["results"][-1]["label"] == "Value 2999" and page["next"] is None
    body = error(post(as_master, "/metadata/fields/big/values", {"label": "One more"}), 409)
    assert "3,000" in body["detail"]
    assert MetadataValue.objects.count() == 3000


def test_rename_a_value_keeps_its_external_id(as_master, three_levels):
    body = ok(patch(as_master, "/metadata/fields/team/values/rd", {"label": "Research"}))
    assert body == {"external_id": "rd", "label": "Research", "position": 1, "blocked": False}
    # Rules that name it still work.
    assert states(as_master, {"category": "employee", "team": "rd"})["role"]["visible"] is True
    # Value IDs are matched case-insensitively in the path.
    assert ok(get(as_master, "/metadata/fields/team"))["values"][0]["label"] == "Research"
    assert ok(patch(as_master, "/metadata/fields/team/values/RD", {}))["label"] == "Research"


def test_block_and_unblock_a_value(as_master, three_levels):
    body = ok(patch(as_master, "/metadata/fields/person/values/jane_kelly", {"blocked": True}))
    assert body["blocked"] is True
    assert states(as_master, {})["person"]["options"] == ["john_smith", "paul_green", "mary_rose"]
    qa = {"category": "employee", "team": "rd", "role": "qa"}
    assert states(as_master, qa)["person"]["options"] == ["john_smith"]
    # Blocked, it is still listed (and searchable) among the values.
    listed = ok(get(as_master, "/metadata/fields/person/values"))["results"]
    assert [v["blocked"] for v in listed] == [False, True, False, False]
    body = ok(patch(as_master, "/metadata/fields/person/values/jane_kelly", {"blocked": False}))
    assert body["blocked"] is False
    assert states(as_master, qa)["person"]["options"] == ["john_smith", "jane_kelly"]


def test_move_a_value(as_master, three_levels):
    body = ok(patch(as_master, "/metadata/fields/person/values/mary_rose", {"position": 1}))
    assert body["position"] == 1
    listed = ok(get(as_master, "/metadata/fields/person/values"))["results"]
    assert [v["external_id"] for v in listed] == [
        "mary_rose",
        "john_smith",
        "jane_kelly",
        "paul_green",
    ]
    assert [v["position"] for v in listed] == [1, 2, 3, 4]
    huge = ok(patch(as_master, "/metadata/fields/person/values/mary_rose", {"position": 10**30}))
    assert huge["position"] == 4


@pytest.mark.parametrize(
    ("payload", "status", "key"),
    [
        ({"external_id": "research"}, 422, "external_id"),
        ({"label": None}, 422, "label"),
        ({"blocked": None}, 422, "blocked"),
        ({"position": None}, 422, "position"),
        ({"label": "Sales"}, 409, None),
        ({"label": "\u0000"}, 422, "label"),
        ({"blocked": "yes please"}, 422, "blocked"),
        ({"position": "last"}, 422, "position"),
    ],
)
def test_bad_value_patches_are_refused(as_master, three_levels, payload, status, key):
    before = _definitions()
    body = error(patch(as_master, "/metadata/fields/team/values/rd", payload), status)
    if key:
        assert key in body["errors"], body
    assert _definitions() == before


def test_the_default_value_cannot_be_blocked(as_master, master):
    services.field_create(
        actor=master, label="Copyright", type="enum", values=["Yes", "No"], default="No"
    )
    body = error(patch(as_master, "/metadata/fields/copyright/values/no", {"blocked": True}), 422)
    assert "blocked" in body["errors"] and "default" in body["detail"]
    assert not MetadataValue.objects.get(external_id="no").blocked


@pytest.mark.parametrize("value_id", ["nope", "employee", "x" * 200, "%00"])
def test_unknown_values_are_404(as_master, three_levels, value_id):
    # "employee" is a value of Category, not of Team.
    error(patch(as_master, f"/metadata/fields/team/values/{value_id}", {"label": "X"}), 404)


# -- rules ------------------------------------------------------------------------------
def rule_payload(conditions, actions, match="all", name="A rule"):
    return {"name": name, "match": match, "conditions": conditions, "actions": actions}


def add_rule(client, target, conditions, actions, match="all", name="A rule") -> dict:
    response = post(
        client,
        f"/metadata/fields/{target}/rules",
        rule_payload(conditions, actions, match, name),
    )
    body = ok(response, 201)
    assert set(body) == RULE_KEYS
    return body


def test_rules_list_in_order_with_summaries(as_master, three_levels):
    body = ok(get(as_master, "/metadata/fields/person/rules"))
    assert [r["name"] for r in body] == ["QA people", "Devops people"]
    for item in body:
        assert set(item) == RULE_KEYS
        assert item["field"] == "person"
    qa = body[0]
    assert (qa["id"], qa["position"], qa["match"]) == (three_levels["rules"]["qa"].pk, 1, "all")
    assert qa["conditions"] == [{"field": "role", "op": "equals", "value": "qa"}]
    assert qa["actions"] == [{"type": "only_options", "values": ["john_smith", "jane_kelly"]}]
    assert qa["summary"] == "When Role equals “QA”: offer only “John Smith”, “Jane Kelly”."
    assert ok(get(as_master, "/metadata/fields/category/rules")) == []


def test_create_a_rule(as_master, three_levels):
    body = add_rule(
        as_master,
        "team",
        [
            {"field": "category", "op": "equals", "value": "CUSTOMER"},
            {"field": "category", "op": "empty"},
        ],
        [{"type": "show"}, {"type": "set_default", "values": ["sales"]}],
        match="any",
        name="  Customers have a team  ",
    )
    assert (body["field"], body["name"], body["position"], body["match"]) == (
        "team",
        "Customers have a team",
        2,
        "any",
    )
    # Stored by the real IDs.
    assert body["conditions"] == [
        {"field": "category", "op": "equals", "value": "customer"},
        {"field": "category", "op": "empty", "value": None},
    ]
    assert body["actions"] == [
        {"type": "show", "values": []},
        {"type": "set_default", "values": ["sales"]},
    ]
    assert body["summary"] == (
        "When Category equals “Customer” or Category is empty: show; set the default to “Sales”."
    )
    assert ok(get(as_master, f"/metadata/rules/{body['id']}")) == body
    assert ok(get(as_master, "/metadata/fields/team"))["has_rules"] is True
    assert states(as_master, {"category": "customer"})["team"] == {
        "visible": True,
        "mandatory": False,
        "options": ["rd", "sales"],
        "default": "sales",
    }


def test_create_a_rule_at_a_position(as_master, three_levels):
    body = add_rule(
        as_master,
        "person",
        [{"field": "role", "op": "populated"}],
        [{"type": "no_options"}],
    )
    assert body["position"] == 3
    first = post(
        as_master,
        "/metadata/fields/person/rules",
        {**rule_payload([{"field": "role", "op": "empty"}], [{"type": "hide"}]), "position": 1},
    )
    assert ok(first, 201)["position"] == 1
    names = [r["name"] for r in ok(get(as_master, "/metadata/fields/person/rules"))]
    assert names == ["A rule", "QA people", "Devops people", "A rule"]


def test_reorder_rules_and_later_rules_override(as_master, three_levels):
    qa, devops = three_levels["rules"]["qa"].pk, three_levels["rules"]["devops"].pk
    # Both apply when Role is populated: the last one decides the options.
    late = add_rule(
        as_master,
        "person",
        [{"field": "role", "op": "populated"}],
        [{"type": "only_options", "values": ["mary_rose"]}],
        name="Anyone with a role",
    )
    qa_values = {"category": "employee", "team": "rd", "role": "qa"}
    assert states(as_master, qa_values)["person"]["options"] == ["mary_rose"]
    body = ok(put(as_master, "/metadata/fields/person/rules/order", [late["id"], devops, qa]))
    assert [r["id"] for r in body] == [late["id"], devops, qa]
    assert [r["position"] for r in body] == [1, 2, 3]
    assert [r["id"] for r in ok(get(as_master, "/metadata/fields/person/rules"))] == [
        late["id"],
        devops,
        qa,
    ]
    assert states(as_master, qa_values)["person"]["options"] == ["john_smith", "jane_kelly"]


@pytest.mark.parametrize(
    "order",
    [
        "missing",
        "twice",
        "foreign",
        [],
        [10**30],
        ["a"],
        [1.5],
        [None],
        {"order": []},
        "text",
        None,
    ],
)
def test_bad_rule_orders_are_422(as_master, three_levels, order):
    qa, devops = three_levels["rules"]["qa"].pk, three_levels["rules"]["devops"].pk
    order = (
        {
            "missing": [qa],
            "twice": [qa, devops, qa],
            "foreign": [qa, three_levels["rules"]["team"].pk],
            "text": json.dumps("text"),
        }.get(order, order)
        if isinstance(order, str)
        else order
    )
    if order is None:
        order = "null"
    before = _definitions()
    error(put(as_master, "/metadata/fields/person/rules/order", order), 422, "validation_error")
    assert _definitions() == before


def test_get_a_rule(as_master, three_levels):
    rule = three_levels["rules"]["role"]
    body = ok(get(as_master, f"/metadata/rules/{rule.pk}"))
    assert (body["id"], body["field"], body["name"]) == (rule.pk, "role", "R&D has roles")
    assert body["actions"] == [{"type": "show", "values": []}, {"type": "mandatory", "values": []}]
    assert body["summary"] == "When Team equals “R&D”: show; make mandatory."


@pytest.mark.parametrize("rule_id", ["999999", str(10**30), "-1", "0"])
def test_unknown_rules_are_404(as_master, three_levels, rule_id):
    before = _definitions()
    error(get(as_master, f"/metadata/rules/{rule_id}"), 404, "not_found")
    error(patch(as_master, f"/metadata/rules/{rule_id}", {"name": "X"}), 404, "not_found")
    error(delete(as_master, f"/metadata/rules/{rule_id}"), 404, "not_found")
    assert _definitions() == before


@pytest.mark.parametrize("rule_id", ["abc", "1.5", "%00"])
def test_malformed_rule_ids_are_refused(as_master, three_levels, rule_id):
    response = get(as_master, f"/metadata/rules/{rule_id}")
    assert response.status_code in (404, 422), response.content
    error(response, response.status_code)


def test_patch_a_rule(as_master, three_levels):
    rule = three_levels["rules"]["team"]
    body = ok(
        patch(
            as_master,
            f"/metadata/rules/{rule.pk}",
            {
                "name": "Everyone has a team",
                "match": "any",
                "conditions": [
                    {"field": "category", "op": "equals", "value": "employee"},
                    {"field": "category", "op": "equals", "value": "customer"},
                ],
            },
        )
    )
    assert (body["name"], body["match"]) == ("Everyone has a team", "any")
    assert body["actions"] == [{"type": "show", "values": []}]  # unchanged
    assert states(as_master, {"category": "customer"})["team"]["visible"] is True
    assert states(as_master, {})["team"]["visible"] is False
    body = ok(patch(as_master, f"/metadata/rules/{rule.pk}", {"actions": [{"type": "hide"}]}))
    assert body["actions"] == [{"type": "hide", "values": []}]
    assert body["name"] == "Everyone has a team"


def test_patch_a_rule_position(as_master, three_levels):
    devops = three_levels["rules"]["devops"]
    assert ok(patch(as_master, f"/metadata/rules/{devops.pk}", {"position": 1}))["position"] == 1
    names = [r["name"] for r in ok(get(as_master, "/metadata/fields/person/rules"))]
    assert names == ["Devops people", "QA people"]


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"name": None}, "name"),
        ({"match": None}, "match"),
        ({"conditions": None}, "conditions"),
        ({"actions": None}, "actions"),
        ({"position": None}, "position"),
        ({"name": ""}, "name"),
        ({"match": "some"}, "match"),
        ({"conditions": []}, "conditions"),
        ({"actions": [{"type": "show"}, {"type": "hide"}]}, "actions"),
        ({"position": "top"}, "position"),
        ({"conditions": "team"}, "conditions"),
    ],
)
def test_bad_rule_patches_are_422(as_master, three_levels, payload, key):
    rule = three_levels["rules"]["role"]
    before = _definitions()
    body = error(patch(as_master, f"/metadata/rules/{rule.pk}", payload), 422)
    assert key in body["errors"], body
    assert _definitions() == before
    assert ok(get(as_master, f"/metadata/rules/{rule.pk}"))["name"] == "R&D has roles"


def test_delete_a_rule(as_master, three_levels):
    qa, devops = three_levels["rules"]["qa"].pk, three_levels["rules"]["devops"].pk
    assert delete(as_master, f"/metadata/rules/{qa}").status_code == 204
    error(get(as_master, f"/metadata/rules/{qa}"), 404)
    body = ok(get(as_master, "/metadata/fields/person/rules"))
    assert [(r["id"], r["position"]) for r in body] == [(devops, 1)]
    qa_values = {"category": "employee", "team": "rd", "role": "qa"}
    assert len(states(as_master, qa_values)["person"]["options"]) == 4
    error(delete(as_master, f"/metadata/rules/{qa}"), 404)


def test_the_rule_a_mandatory_field_takes_its_default_from_stays(as_master, master):
    services.field_create(actor=master, label="Trigger", type="enum", values=["On", "Off"])
    services.field_create(actor=master, label="Owner", type="string")
    rule = add_rule(
        as_master,
        "owner",
        [{"field": "trigger", "op": "populated"}],
        [{"type": "set_default", "values": ["Studio"]}],
    )
    # With a rule that sets its default, the field may be mandatory without one.
    assert ok(patch(as_master, "/metadata/fields/owner", {"mandatory": True}))["mandatory"]
    body = error(delete(as_master, f"/metadata/rules/{rule['id']}"), 422)
    assert "default" in body["detail"]
    body = error(
        patch(as_master, f"/metadata/rules/{rule['id']}", {"actions": [{"type": "show"}]}), 422
    )
    assert "actions" in body["errors"]
    assert ok(get(as_master, f"/metadata/rules/{rule['id']}"))["actions"][0]["type"] == (
        "set_default"
    )


@pytest.fixture
def lab(master):
    """Fields to aim rules at: lists, text, number, date."""
    make = services.field_create
    make(actor=master, label="Trigger", type="enum", values=["On", "Off"])
    make(actor=master, label="Switch", type="enum", values=["Up", "Down"])
    make(actor=master, label="Note", type="string")
    make(actor=master, label="Topics", type="set", values=["A", "B", "C"])
    make(actor=master, label="Count", type="number")
    make(actor=master, label="Day", type="date")
    return master


ON = [{"field": "trigger", "op": "equals", "value": "on"}]


@pytest.mark.parametrize(
    ("conditions", "actions", "key"),
    [
        ([], [{"type": "show"}], "conditions"),
        ("trigger", [{"type": "show"}], "conditions"),
        ([1], [{"type": "show"}], "conditions"),
        ([{"field": "nope", "op": "populated"}], [{"type": "show"}], "conditions"),
        ([{"field": 5, "op": "populated"}], [{"type": "show"}], "conditions"),
        ([{"field": "out", "op": "populated"}], [{"type": "show"}], "conditions"),
        ([{"field": "trigger", "op": "like", "value": "on"}], [{"type": "show"}], "conditions"),
        ([{"field": "trigger", "op": "empty", "value": "on"}], [{"type": "show"}], "conditions"),
        ([{"field": "trigger", "op": "equals"}], [{"type": "show"}], "conditions"),
        (
            [{"field": "trigger", "op": "equals", "value": "maybe"}],
            [{"type": "show"}],
            "conditions",
        ),
        (
            [{"field": "trigger", "op": "equals", "value": ["on", "off"]}],
            [{"type": "show"}],
            "conditions",
        ),
        ([{"field": "count", "op": "includes", "value": 5}], [{"type": "show"}], "conditions"),
        ([{"field": "count", "op": "equals", "value": "five"}], [{"type": "show"}], "conditions"),
        ([{"field": "count", "op": "equals", "value": 10**30}], [{"type": "show"}], "conditions"),
        ([{"field": "day", "op": "equals", "value": "soon"}], [{"type": "show"}], "conditions"),
        ([{"field": "note", "op": "equals", "value": "a\u0000"}], [{"type": "show"}], "conditions"),
        (
            [{"field": "note", "op": "equals", "value": "x" * 6000}],
            [{"type": "show"}],
            "conditions",
        ),
        ([{"field": "note", "op": "populated"}] * 21, [{"type": "show"}], "conditions"),
        (ON, [], "actions"),
        (ON, "show", "actions"),
        (ON, [{"type": "explode"}], "actions"),
        (ON, ["show"], "actions"),
        (ON, [{"type": "show"}, {"type": "hide"}], "actions"),
        (ON, [{"type": "mandatory"}, {"type": "optional"}], "actions"),
        (ON, [{"type": "show", "values": ["x"]}], "actions"),
        (ON, [{"type": "set_default"}], "actions"),
        (ON, [{"type": "set_default", "values": ["a", "b"]}], "actions"),
        (ON, [{"type": "only_options", "values": ["a"]}], "actions"),  # text target
        (ON, [{"type": "no_options"}], "actions"),
        (ON, [{"type": "append", "values": ["x"]}], "actions"),
    ],
)
def test_bad_rules_are_422(as_master, lab, conditions, actions, key):
    services.field_create(actor=lab, label="Out", type="string", max=3)
    before = _definitions()
    body = error(
        post(as_master, "/metadata/fields/out/rules", rule_payload(conditions, actions)), 422
    )
    assert key in body["errors"], body
    assert _definitions() == before


@pytest.mark.parametrize(
    ("actions", "words"),
    [
        ([{"type": "append", "values": ["a"]}], "multi-select"),  # an enum target
        ([{"type": "only_options", "values": ["zzz"]}], "not one of its values"),
        ([{"type": "set_default", "values": ["a", "b"]}], "one default"),
        ([{"type": "add_options"}], "at least one value"),
    ],
)
def test_bad_list_actions_are_422(as_master, lab, actions, words):
    services.field_create(actor=lab, label="Pick", type="enum", values=["A", "B"])
    body = error(post(as_master, "/metadata/fields/pick/rules", rule_payload(ON, actions)), 422)
    assert "actions" in body["errors"] and words in body["detail"], body


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"name": "", "conditions": ON, "actions": [{"type": "show"}]}, "name"),
        ({"name": "a\u0000", "conditions": ON, "actions": [{"type": "show"}]}, "name"),
        ({"name": "x" * 201, "conditions": ON, "actions": [{"type": "show"}]}, "name"),
        ({"name": 12, "conditions": ON, "actions": [{"type": "show"}]}, "name"),
        ({"conditions": ON, "actions": [{"type": "show"}]}, "name"),
        ({"name": "R", "actions": [{"type": "show"}]}, "conditions"),
        ({"name": "R", "conditions": ON}, "actions"),
        ({"name": "R", "match": "some", "conditions": ON, "actions": [{"type": "show"}]}, "match"),
        ({"name": "R", "match": 1, "conditions": ON, "actions": [{"type": "show"}]}, "match"),
    ],
)
def test_bad_rule_names_and_shapes_are_422(as_master, lab, payload, key):
    services.field_create(actor=lab, label="Out", type="string")
    body = error(post(as_master, "/metadata/fields/out/rules", payload), 422)
    assert key in body["errors"], body
    assert not MetadataRule.objects.exists()


@pytest.mark.parametrize("raw", ["[]", "1", '"rule"', "null", "{"])
def test_rule_bodies_that_are_not_objects_are_refused(as_master, three_levels, raw):
    before = _definitions()
    response = as_master.post(
        f"{API}/metadata/fields/team/rules", raw, content_type="application/json"
    )
    assert response.status_code in (400, 422), response.content
    error(response, response.status_code)
    assert _definitions() == before


def test_a_rule_cycle_is_refused_naming_the_loop(as_master, three_levels):
    before = _definitions()
    # Person reads Role, Role reads Team, Team reads Category: Category reading Person loops.
    body = error(
        post(
            as_master,
            "/metadata/fields/category/rules",
            rule_payload(
                [{"field": "person", "op": "includes", "value": ["john_smith"]}],
                [{"type": "hide"}],
            ),
        ),
        422,
        "validation_error",
    )
    assert "conditions" in body["errors"]
    assert "loop" in body["detail"]
    assert "Category → Team → Role → Person → Category" in body["detail"], body["detail"]
    assert _definitions() == before


def test_a_rule_patch_that_makes_a_cycle_is_refused(as_master, three_levels, master):
    caption = services.field_create(actor=master, label="Caption", type="string")
    rule = services.rule_create(
        actor=master,
        field=caption,
        name="Caption for customers",
        conditions=[{"field": "category", "op": "populated"}],
        actions=[{"type": "show"}],
    )
    # Caption now reads Team; Team's rule reading Caption would loop Team -> Caption -> Team.
    ok(
        patch(
            as_master,
            f"/metadata/rules/{rule.pk}",
            {
                "conditions": [{"field": "team", "op": "populated"}],
            },
        )
    )
    team_rule = three_levels["rules"]["team"]
    body = error(
        patch(
            as_master,
            f"/metadata/rules/{team_rule.pk}",
            {"conditions": [{"field": "caption", "op": "populated"}]},
        ),
        422,
    )
    assert "loop" in body["detail"] and "Team" in body["detail"] and "Caption" in body["detail"]
    stored = MetadataRule.objects.get(pk=team_rule.pk)
    assert stored.depends_on == ["category"]


def test_a_field_cannot_read_itself(as_master, three_levels):
    body = error(
        post(
            as_master,
            "/metadata/fields/team/rules",
            rule_payload([{"field": "team", "op": "populated"}], [{"type": "mandatory"}]),
        ),
        422,
    )
    assert "itself" in body["detail"]


# -- evaluate: the three levels ---------------------------------------------------------
EVERYONE = ["john_smith", "jane_kelly", "paul_green", "mary_rose"]


def test_evaluate_with_nothing_chosen(as_master, three_levels):
    body = evaluate(as_master, {})
    assert list(body["fields"]) == ["category", "team", "role", "person"]
    assert body["fields"]["category"] == {
        "visible": True,
        "mandatory": False,
        "options": ["employee", "customer"],
        "default": None,
    }
    assert body["fields"]["team"]["visible"] is False
    assert body["fields"]["role"] == {
        "visible": False,
        "mandatory": False,  # the rule that makes it mandatory does not apply
        "options": ["qa", "devops"],
        "default": None,
    }
    assert body["fields"]["person"]["options"] == EVERYONE
    assert body["values"] == {}


def test_evaluate_employee_shows_team(as_master, three_levels):
    fields = states(as_master, {"category": "employee"})
    assert fields["team"]["visible"] is True
    assert fields["team"]["mandatory"] is False
    assert fields["role"]["visible"] is False
    assert states(as_master, {"category": "customer"})["team"]["visible"] is False


def test_evaluate_rd_shows_role_and_makes_it_mandatory(as_master, three_levels):
    body = evaluate(as_master, {"category": "employee", "team": "rd"})
    assert body["fields"]["role"]["visible"] is True
    assert body["fields"]["role"]["mandatory"] is True
    assert body["values"] == {"category": "employee", "team": "rd"}
    sales = states(as_master, {"category": "employee", "team": "sales"})
    assert (sales["role"]["visible"], sales["role"]["mandatory"]) == (False, False)


@pytest.mark.parametrize(
    ("role", "people"),
    [
        ("qa", ["john_smith", "jane_kelly"]),
        ("devops", ["paul_green", "mary_rose"]),
        (None, EVERYONE),
    ],
)
def test_evaluate_role_limits_the_people(as_master, three_levels, role, people):
    values = {"category": "employee", "team": "rd"}
    if role:
        values["role"] = role
    assert states(as_master, values)["person"]["options"] == people


def test_evaluate_reads_effective_values(as_master, three_levels):
    """Team=R&D while Category is not Employee: Team is hidden, so it counts as empty and
    Role does not show; the hidden values are left out."""
    body = evaluate(
        as_master,
        {"category": "customer", "team": "rd", "role": "qa", "person": ["paul_green"]},
    )
    assert body["fields"]["team"]["visible"] is False
    assert body["fields"]["role"]["visible"] is False
    assert body["fields"]["person"]["options"] == EVERYONE
    assert body["values"] == {"category": "customer", "person": ["paul_green"]}
    # A person the role does not allow is dropped from the values.
    body = evaluate(
        as_master,
        {
            "category": "employee",
            "team": "rd",
            "role": "qa",
            "person": ["paul_green", "jane_kelly"],
        },
    )
    assert body["values"]["person"] == ["jane_kelly"]


def test_evaluate_accepts_value_ids_case_insensitively(as_master, three_levels):
    body = evaluate(as_master, {"category": "EMPLOYEE", "team": "Rd"})
    assert body["values"] == {"category": "employee", "team": "rd"}
    assert body["fields"]["role"]["mandatory"] is True


def test_evaluate_with_defaults(as_master, master, three_levels):
    services.field_create(
        actor=master,
        label="Copyright",
        type="enum",
        values=["Yes", "No"],
        default="No",
        mandatory=True,
    )
    services.field_create(actor=master, label="Caption", type="string", default="Untitled")
    assert evaluate(as_master, {})["values"] == {}
    body = evaluate(as_master, {}, apply_defaults=True)
    assert body["values"] == {"copyright": "no", "caption": "Untitled"}
    assert body["fields"]["copyright"] == {
        "visible": True,
        "mandatory": True,
        "options": ["yes", "no"],
        "default": "no",
    }
    body = evaluate(as_master, {"caption": "Mine"}, apply_defaults=True)
    assert body["values"]["caption"] == "Mine"


# -- evaluate: every action -------------------------------------------------------------
@pytest.fixture
def targets(lab):
    make = services.field_create
    make(actor=lab, label="Secret", type="string", hidden=True)
    make(actor=lab, label="Plain", type="string")
    make(actor=lab, label="Needed", type="string", mandatory=True, default="n/a")
    make(actor=lab, label="Colours", type="set", values=["Red", "Green", "Blue"], default=["Red"])
    make(actor=lab, label="Size", type="enum", values=["S", "M", "L"])
    return lab


@pytest.mark.parametrize(
    ("target", "rules", "off", "on"),
    [
        ("secret", [[{"type": "show"}]], {"visible": False}, {"visible": True}),
        ("plain", [[{"type": "hide"}]], {"visible": True}, {"visible": False}),
        ("plain", [[{"type": "mandatory"}]], {"mandatory": False}, {"mandatory": True}),
        ("needed", [[{"type": "optional"}]], {"mandatory": True}, {"mandatory": False}),
        # Hidden beats mandatory: a field the rules hide is never mandatory.
        ("needed", [[{"type": "hide"}]], {"mandatory": True}, {"mandatory": False}),
        (
            "plain",
            [[{"type": "set_default", "values": ["Hello"]}]],
            {"default": None},
            {"default": "Hello"},
        ),
        ("size", [[{"type": "set_default", "values": ["m"]}]], {"default": None}, {"default": "m"}),
        (
            "colours",
            [[{"type": "set_default", "values": ["blue"]}]],
            {"default": ["red"]},
            {"default": ["blue"]},
        ),
        (
            "colours",
            [[{"type": "append", "values": ["green", "blue"]}]],
            {"default": ["red"]},
            {"default": ["red", "green", "blue"]},
        ),
        ("size", [[{"type": "no_options"}]], {"options": ["s", "m", "l"]}, {"options": []}),
        (
            "size",
            [[{"type": "only_options", "values": ["l", "s"]}]],
            {"options": ["s", "m", "l"]},
            {"options": ["s", "l"]},
        ),
        # Options the rules take away leave the default too.
        (
            "colours",
            [[{"type": "only_options", "values": ["green"]}]],
            {"options": ["red", "green", "blue"], "default": ["red"]},
            {"options": ["green"], "default": None},
        ),
        # "Add options" adds to what an earlier rule left; "all options" undoes it.
        (
            "size",
            [
                [{"type": "only_options", "values": ["s"]}],
                [{"type": "add_options", "values": ["l"]}],
            ],
            {"options": ["s"]},
            {"options": ["s", "l"]},
        ),
        (
            "size",
            [[{"type": "no_options"}], [{"type": "all_options"}]],
            {"options": []},
            {"options": ["s", "m", "l"]},
        ),
        # Adding to "all options" adds nothing.
        (
            "size",
            [[{"type": "add_options", "values": ["m"]}]],
            {"options": ["s", "m", "l"]},
            {"options": ["s", "m", "l"]},
        ),
    ],
)
def test_every_action_type(as_master, targets, target, rules, off, on):
    """The last rule applies when Trigger is On; any earlier one when Trigger is set."""
    *earlier, last = rules
    for actions in earlier:
        add_rule(as_master, target, [{"field": "trigger", "op": "populated"}], actions)
    add_rule(as_master, target, ON, last)
    for values, expected in (({"trigger": "off"}, off), ({"trigger": "on"}, on)):
        state = states(as_master, values)[target]
        assert {k: state[k] for k in expected} == expected, (values, state)


def test_set_default_fills_on_apply_defaults(as_master, targets):
    add_rule(as_master, "plain", ON, [{"type": "set_default", "values": ["Hello"]}])
    body = evaluate(as_master, {"trigger": "on"}, apply_defaults=True)
    assert body["values"]["plain"] == "Hello"
    assert body["values"]["colours"] == ["red"]
    assert "plain" not in evaluate(as_master, {"trigger": "off"}, apply_defaults=True)["values"]


# -- evaluate: match modes and every condition op -----------------------------------------
@pytest.mark.parametrize(
    ("match", "values", "shown"),
    [
        ("all", {"trigger": "on", "switch": "up"}, True),
        ("all", {"trigger": "on", "switch": "down"}, False),
        ("all", {"trigger": "on"}, False),
        ("all", {}, False),
        ("any", {"trigger": "on", "switch": "up"}, True),
        ("any", {"trigger": "on", "switch": "down"}, True),
        ("any", {"switch": "up"}, True),
        ("any", {"trigger": "off", "switch": "down"}, False),
        ("any", {}, False),
    ],
)
def test_match_all_and_any(as_master, targets, match, values, shown):
    add_rule(
        as_master,
        "secret",
        [
            {"field": "trigger", "op": "equals", "value": "on"},
            {"field": "switch", "op": "equals", "value": "up"},
        ],
        [{"type": "show"}],
        match=match,
    )
    assert states(as_master, values)["secret"]["visible"] is shown


@pytest.mark.parametrize(
    ("condition", "values", "holds"),
    [
        ({"field": "note", "op": "empty"}, {}, True),
        ({"field": "note", "op": "empty"}, {"note": "   "}, True),
        ({"field": "note", "op": "empty"}, {"note": "x"}, False),
        ({"field": "topics", "op": "empty"}, {"topics": []}, True),
        ({"field": "note", "op": "populated"}, {"note": "x"}, True),
        ({"field": "note", "op": "populated"}, {}, False),
        ({"field": "topics", "op": "populated"}, {"topics": ["a"]}, True),
        ({"field": "count", "op": "populated"}, {"count": 0}, True),
        ({"field": "note", "op": "equals", "value": "Hello"}, {"note": " hello "}, True),
        ({"field": "note", "op": "equals", "value": "Hello"}, {"note": "hello world"}, False),
        ({"field": "trigger", "op": "equals", "value": "on"}, {"trigger": "on"}, True),
        ({"field": "trigger", "op": "equals", "value": "on"}, {"trigger": "off"}, False),
        ({"field": "topics", "op": "equals", "value": ["a", "b"]}, {"topics": ["b", "a"]}, True),
        ({"field": "topics", "op": "equals", "value": ["a", "b"]}, {"topics": ["a"]}, False),
        ({"field": "count", "op": "equals", "value": 5}, {"count": "5.0"}, True),
        ({"field": "count", "op": "equals", "value": 5}, {"count": 6}, False),
        ({"field": "day", "op": "equals", "value": "2024-01-31"}, {"day": "2024-01-31"}, True),
        ({"field": "day", "op": "equals", "value": "2024-01-31"}, {"day": "2024-02-01"}, False),
        ({"field": "note", "op": "includes", "value": ["ELL"]}, {"note": "Hello"}, True),
        ({"field": "note", "op": "includes", "value": ["xyz", "lo"]}, {"note": "Hello"}, True),
        ({"field": "note", "op": "includes", "value": ["xyz"]}, {"note": "Hello"}, False),
        ({"field": "topics", "op": "includes", "value": ["b", "c"]}, {"topics": ["a", "c"]}, True),
        ({"field": "topics", "op": "includes", "value": ["b"]}, {"topics": ["a", "c"]}, False),
        ({"field": "trigger", "op": "includes", "value": ["on", "off"]}, {"trigger": "off"}, True),
        ({"field": "trigger", "op": "includes", "value": ["on"]}, {}, False),
    ],
)
def test_every_condition_op(as_master, targets, condition, values, holds):
    add_rule(as_master, "secret", [condition], [{"type": "show"}])
    assert states(as_master, values)["secret"]["visible"] is holds


# -- evaluate: hostile input --------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"nope": "x"}, "metadata.nope"),
        ({"category": "robot"}, "metadata.category"),
        ({"category": ["employee"]}, "metadata.category"),
        ({"category": 5}, "metadata.category"),
        ({"person": "nobody"}, "metadata.person"),
        ({"person": [1, 2]}, "metadata.person"),
        ({"person": {"a": 1}}, "metadata.person"),
        ({"person": [{"a": 1}]}, "metadata.person"),
        ({"person": [["john_smith"]]}, "metadata.person"),
        ({"category": {"a": 1}}, "metadata.category"),
        ({"n\u0000pe": 1}, "metadata.npe"),
        ({"x" * 5000: 1}, "metadata." + "x" * 100),
    ],
)
def test_evaluate_refuses_bad_values_naming_the_field(as_master, three_levels, values, key):
    body = error(post(as_master, "/metadata/evaluate", {"values": values}), 422)
    assert key in body["errors"], body


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"note": "a\u0000b"}, "metadata.note"),
        ({"note": "x" * 5001}, "metadata.note"),
        ({"note": 12}, "metadata.note"),
        ({"count": 10**30}, "metadata.count"),
        ({"count": "1e400"}, "metadata.count"),
        ({"count": "NaN"}, "metadata.count"),
        ({"count": True}, "metadata.count"),
        ({"count": [1]}, "metadata.count"),
        ({"day": "31/01/2024"}, "metadata.day"),
        ({"day": "2024-13-01"}, "metadata.day"),
        ({"day": 20240101}, "metadata.day"),
    ],
)
def test_evaluate_refuses_bad_scalars(as_master, lab, values, key):
    body = error(post(as_master, "/metadata/evaluate", {"values": values}), 422)
    assert key in body["errors"], body


def test_evaluate_refuses_too_many_fields_at_once(as_master, three_levels):
    values = {f"f{i}": 1 for i in range(501)}
    body = error(post(as_master, "/metadata/evaluate", {"values": values}), 422)
    assert "metadata" in body["errors"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"values": []}',
        '{"values": "category=employee"}',
        '{"values": 1}',
        '{"values": {}, "apply_defaults": "sometimes"}',
        "{",
        '{"values": ' + "[" * 3000 + "]" * 3000 + "}",
        '{"values": {"category": ' + "[" * 3000 + "]" * 3000 + "}}",
    ],
)
def test_evaluate_never_500s_on_odd_bodies(as_master, three_levels, raw):
    response = as_master.post(f"{API}/metadata/evaluate", raw, content_type="application/json")
    assert response.status_code in (400, 422), response.content[:300]
    error(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/metadata/evaluate"),
        ("patch", "/metadata/fields/category"),
        ("patch", "/metadata/fields/category/values/employee"),
        ("patch", "/metadata/rules/RULE"),
    ],
)
def test_non_object_bodies_are_refused_where_every_key_is_optional(
    as_master, three_levels, method, path
):
    """A JSON array, number, string or null is not the object these routes take: 400 or
    422 (API.md), not a 200 that reads it as `{}`."""
    path = path.replace("RULE", str(three_levels["rules"]["team"].pk))
    answered = {}
    for raw in ("[]", "[1, 2]", "1", '"values"', "null", "true"):
        response = getattr(as_master, method)(f"{API}{path}", raw, content_type="application/json")
        answered[raw] = response.status_code
        assert response.status_code < 500, response.content
    assert all(status in (400, 422) for status in answered.values()), answered


def test_evaluate_with_no_fields_defined(as_master):
    assert evaluate(as_master, {}) == {"fields": {}, "values": {}}
    error(post(as_master, "/metadata/evaluate", {"values": {"a": 1}}), 422)
