"""Metadata services: definition rules, the one write check, and every asset write path."""

from __future__ import annotations

import pytest

from accounts.models import Role
from assets import services as asset_services
from assets.models import Asset
from dam.errors import Conflict, NotAllowed, ValidationFailed
from dam.models import AuditEvent
from dam.testing import AdminFactory, UserFactory, grant, image_upload, make_asset, make_folder
from metadata import engine, selectors, services
from metadata.models import MetadataField, MetadataRule, MetadataValue

pytestmark = pytest.mark.django_db


def field(external_id: str) -> MetadataField:
    return MetadataField.objects.get(external_id=external_id)


# -- definitions ---------------------------------------------------------------------------
def test_only_master_admins_define_metadata(master):
    for role in (Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_USER):
        with pytest.raises(NotAllowed):
            services.field_create(actor=UserFactory(role=role), label="X", type="string")
    assert services.field_create(actor=master, label="X", type="string").external_id == "x"


def test_external_ids_are_generated_unique_and_never_reused(master):
    a = services.field_create(actor=master, label="Licence expiry", type="date")
    b = services.field_create(actor=master, label="Licence  Expiry!", type="date", external_id="")
    assert (a.external_id, b.external_id) == ("licence_expiry", "licence_expiry_2")
    services.field_delete(actor=master, field=a)
    with pytest.raises(Conflict, match="never reused"):
        services.field_create(
            actor=master, label="Again", type="date", external_id="licence_expiry"
        )
    with pytest.raises(Conflict):  # case-insensitively too
        services.field_create(
            actor=master, label="Again", type="date", external_id="LICENCE_EXPIRY"
        )
    with pytest.raises(ValidationFailed, match="External IDs"):
        services.field_create(actor=master, label="Bad", type="date", external_id="has space")


def test_external_id_and_type_never_change(master):
    f = services.field_create(actor=master, label="Region", type="string")
    with pytest.raises(ValidationFailed, match="external ID can never change"):
        services.field_update(actor=master, field=f, external_id="area")
    with pytest.raises(ValidationFailed, match="type cannot change"):
        services.field_update(actor=master, field=f, type="number")
    # Sending the same values is fine.
    services.field_update(actor=master, field=f, external_id="region", type="string", label="Area")
    assert field("region").label == "Area"


def test_a_new_list_starts_with_one_placeholder_value(master):
    f = services.field_create(actor=master, label="Status", type="enum")
    assert list(f.values.values_list("label", "external_id")) == [("Value 1", "value_1")]
    text = services.field_create(actor=master, label="Note", type="string")
    assert not text.values.exists()


def test_hidden_fields_start_neither_mandatory_nor_with_a_default(master):
    with pytest.raises(ValidationFailed, match="hidden field cannot start mandatory"):
        services.field_create(
            actor=master, label="A", type="string", hidden=True, mandatory=True, default="x"
        )
    with pytest.raises(ValidationFailed, match="hidden field cannot start with a default"):
        services.field_create(actor=master, label="B", type="string", hidden=True, default="x")
    f = services.field_create(actor=master, label="C", type="string", default="x")
    with pytest.raises(ValidationFailed, match="cannot start with a default"):
        services.field_update(actor=master, field=f, hidden=True)


def test_a_mandatory_field_needs_a_default_or_a_rule_that_sets_one(master):
    with pytest.raises(ValidationFailed, match="needs a default value or a rule"):
        services.field_create(actor=master, label="Owner", type="string", mandatory=True)
    kind = services.field_create(actor=master, label="Kind", type="enum", values=["A", "B"])
    owner = services.field_create(actor=master, label="Owner", type="string")
    rule = services.rule_create(
        actor=master,
        field=owner,
        name="Default owner",
        conditions=[{"field": "kind", "op": "populated"}],
        actions=[{"type": "set_default", "values": ["Studio"]}],
    )
    services.field_update(actor=master, field=owner, mandatory=True)  # the rule sets one
    with pytest.raises(ValidationFailed, match="what sets its default"):
        services.rule_delete(actor=master, rule=rule)
    with pytest.raises(ValidationFailed, match="what sets its default"):
        services.rule_update(actor=master, rule=rule, actions=[{"type": "show"}])
    assert kind.pk and MetadataRule.objects.filter(pk=rule.pk).exists()


def test_bounds_and_defaults_are_checked_against_the_type(master):
    with pytest.raises(ValidationFailed, match="minimum is larger"):
        services.field_create(actor=master, label="N", type="number", min=5, max=1)
    with pytest.raises(ValidationFailed, match="no minimum or maximum"):
        services.field_create(actor=master, label="L", type="enum", min=1)
    with pytest.raises(ValidationFailed, match="Default: D must be on or after 2024-01-01"):
        services.field_create(
            actor=master, label="D", type="date", min="2024-01-01", default="2023-12-31"
        )
    with pytest.raises(ValidationFailed, match="Default: S has at most 3 characters"):
        services.field_create(actor=master, label="S", type="string", max=3, default="long")
    with pytest.raises(ValidationFailed, match="is not one of its values"):
        services.field_create(actor=master, label="E", type="enum", values=["A"], default="zzz")
    with pytest.raises(ValidationFailed, match="type is one of"):
        services.field_create(actor=master, label="T", type="colour")
    # At creation a list default may name a value by its label.
    e = services.field_create(
        actor=master, label="E", type="enum", values=["Alpha", "Beta"], default="Beta"
    )
    assert e.default == "beta"
    s = services.field_create(
        actor=master, label="S2", type="set", values=["x", "y"], default=["Y"]
    )
    assert s.default == ["y"]


def test_labels_are_unique_and_renames_apply_everywhere(master):
    services.field_create(actor=master, label="Region", type="enum", values=["EMEA"])
    with pytest.raises(Conflict):
        services.field_create(actor=master, label="region", type="string")
    services.field_create(actor=master, label="i", type="string")
    with pytest.raises(Conflict):  # the same to lower() (the constraint), not to upper()
        services.field_create(actor=master, label="İ", type="string")
    folder = make_folder("/R", actor=master)
    asset = make_asset(folder, actor=master, metadata={"region": "emea"})
    value = selectors.value_get(field("region"), "emea")
    services.value_update(actor=master, value=value, label="Europe, Middle East, Africa")
    services.field_update(actor=master, field=field("region"), label="Sales region")
    asset.refresh_from_db()
    assert asset.metadata == {"region": "emea"}  # stored by IDs: nothing to rewrite
    schema = selectors.schema_get()
    assert schema.by_id["region"].label == "Sales region"
    assert schema.option("region", "emea").label == "Europe, Middle East, Africa"


def test_values_add_rename_reorder_block_and_limits(master):
    f = services.field_create(actor=master, label="Size", type="enum", values=["S", "M", "L"])
    xl = services.value_create(actor=master, field=f, label="XL")
    assert (xl.external_id, xl.position) == ("xl", 3)
    services.value_update(actor=master, value=xl, position=1)
    assert list(f.values.values_list("external_id", flat=True)) == ["xl", "s", "m", "l"]
    with pytest.raises(Conflict):
        services.value_create(actor=master, field=f, label="xl")
    services.value_create(actor=master, field=f, label="i")
    with pytest.raises(Conflict):
        services.value_create(actor=master, field=f, label="İ")
    with pytest.raises(ValidationFailed, match="external ID can never change"):
        services.value_update(actor=master, value=xl, external_id="huge")
    services.value_update(actor=master, value=xl, blocked=True)
    assert selectors.schema_get().option("size", "xl").blocked
    services.field_update(actor=master, field=f, default="m")
    with pytest.raises(ValidationFailed, match="is the default"):
        services.value_update(actor=master, value=selectors.value_get(f, "m"), blocked=True)
    text = services.field_create(actor=master, label="Text", type="string")
    with pytest.raises(ValidationFailed, match="Only list fields"):
        services.value_create(actor=master, field=text, label="x")


def test_a_list_holds_up_to_3000_values(master):
    f = services.field_create(
        actor=master, label="Big", type="enum", values=[f"v{i}" for i in range(services.VALUES_MAX)]
    )
    assert f.values.count() == 3000
    with pytest.raises(Conflict, match="3,000"):
        services.value_create(actor=master, field=f, label="one more")
    with pytest.raises(ValidationFailed, match="3,000"):
        services.field_create(
            actor=master, label="Bigger", type="enum", values=[f"v{i}" for i in range(3001)]
        )


def test_fields_reorder_and_move(master):
    for label in ("A", "B", "C"):
        services.field_create(actor=master, label=label, type="string")
    services.fields_reorder(actor=master, order=["c", "a", "b"])
    assert [f.external_id for f in selectors.schema_get().fields] == ["c", "a", "b"]
    services.field_update(actor=master, field=field("b"), position=1)
    assert [f.external_id for f in selectors.schema_get().fields] == ["b", "c", "a"]
    with pytest.raises(ValidationFailed, match="every field exactly once"):
        services.fields_reorder(actor=master, order=["a", "b"])
    services.field_delete(actor=master, field=field("c"))
    assert list(MetadataField.objects.values_list("external_id", "position")) == [
        ("b", 0),
        ("a", 1),
    ]


def test_rule_validation(master, three_levels):
    team = three_levels["team"]
    cases = [
        ([{"field": "team", "op": "populated"}], [{"type": "show"}], "not itself"),
        ([{"field": "nope", "op": "populated"}], [{"type": "show"}], "choose a field"),
        ([{"field": "category", "op": "like"}], [{"type": "show"}], "op is"),
        ([{"field": "category", "op": "equals"}], [{"type": "show"}], "enter the value"),
        (
            [{"field": "category", "op": "empty", "value": "x"}],
            [{"type": "show"}],
            "takes no value",
        ),
        ([{"field": "category", "op": "equals", "value": "zzz"}], [{"type": "show"}], "not one of"),
        ([], [{"type": "show"}], "at least one condition"),
        ([{"field": "category", "op": "populated"}], [], "at least one action"),
        (
            [{"field": "category", "op": "populated"}],
            [{"type": "show"}, {"type": "hide"}],
            "Only one action per group",
        ),
        (
            [{"field": "category", "op": "populated"}],
            [{"type": "only_options"}],
            "choose at least one value",
        ),
        (
            [{"field": "category", "op": "populated"}],
            [{"type": "append", "values": ["rd"]}],
            "multi-select",
        ),
        (
            [{"field": "category", "op": "populated"}],
            [{"type": "set_default", "values": ["rd", "sales"]}],
            "choose one default",
        ),
        (
            [{"field": "category", "op": "populated"}],
            [{"type": "explode"}],
            "type is one of",
        ),
    ]
    for conditions, actions, message in cases:
        with pytest.raises(ValidationFailed, match=message):
            services.rule_create(
                actor=master, field=team, name="r", conditions=conditions, actions=actions
            )
    note = services.field_create(actor=master, label="Note", type="string")
    with pytest.raises(ValidationFailed, match="list fields only"):
        services.rule_create(
            actor=master,
            field=note,
            name="r",
            conditions=[{"field": "category", "op": "populated"}],
            actions=[{"type": "no_options"}],
        )
    rating = services.field_create(actor=master, label="Rating", type="number")
    with pytest.raises(ValidationFailed, match="includes"):
        services.rule_create(
            actor=master,
            field=note,
            name="r",
            conditions=[{"field": "rating", "op": "includes", "value": [1]}],
            actions=[{"type": "hide"}],
        )
    assert rating.pk


def test_cycles_are_refused_when_a_rule_is_saved(master, three_levels):
    category = three_levels["category"]
    with pytest.raises(ValidationFailed, match=r"loop \(Category → Team → Role → Category\)"):
        services.rule_create(
            actor=master,
            field=category,
            name="Loop",
            conditions=[{"field": "role", "op": "populated"}],
            actions=[{"type": "hide"}],
        )
    # Updating an existing rule into a loop is refused too.
    rule = three_levels["rules"]["team"]
    with pytest.raises(ValidationFailed, match="loop"):
        services.rule_update(
            actor=master, rule=rule, conditions=[{"field": "role", "op": "populated"}]
        )


def test_deleting_a_field_that_rules_read_is_refused_naming_the_rules(master, three_levels):
    with pytest.raises(Conflict) as refused:
        services.field_delete(actor=master, field=three_levels["role"])
    assert "“QA people” (on Person)" in refused.value.message
    assert "“Devops people” (on Person)" in refused.value.message
    # Its own rules go with a field that nothing reads.
    services.field_delete(actor=master, field=three_levels["person"])
    assert not MetadataRule.objects.filter(field=three_levels["person"]).exists()
    assert "person" not in selectors.schema_get().by_id


def test_deleted_field_values_are_stripped_from_assets(
    master, three_levels, django_capture_on_commit_callbacks
):
    folder = make_folder("/Strip", actor=master)
    a = make_asset(
        folder, actor=master, metadata={"person": ["john_smith"], "category": "customer"}
    )
    trashed = make_asset(folder, actor=master, metadata={"person": ["mary_rose"]})
    asset_services.asset_delete(actor=master, asset=trashed)
    assert services.assets_using(three_levels["person"]) == 2
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly
        services.field_delete(actor=master, field=three_levels["person"])
    a.refresh_from_db()
    assert a.metadata == {"category": "customer"}
    assert Asset.all_objects.get(pk=trashed.pk).metadata == {}
    assert services.field_values_strip(external_id="person") == 0  # idempotent


def test_assets_using_counts_up_to_a_limit(master, three_levels):
    """Holders are counted up to the limit (more answers limit + 1), trash included, and
    an asset whose metadata lacks the key is not one."""
    folder = make_folder("/Using", actor=master)
    for _ in range(3):
        make_asset(folder, actor=master, metadata={"person": ["john_smith"]})
    make_asset(folder, actor=master, metadata={"category": "customer"})
    person = three_levels["person"]
    assert services.assets_using(person) == 3
    assert services.assets_using(person, limit=2) == 3  # "more than 2"
    assert services.assets_using(person, limit=5) == 3
    assert services.assets_using(three_levels["category"]) == 1


def test_field_values_strip_walks_every_batch(master, three_levels):
    """Batches of ids, not of matches: rows without the key between them are skipped,
    and every holder is reached, the last batch's too."""
    folder = make_folder("/Batches", actor=master)
    held = [make_asset(folder, actor=master, metadata={"person": ["john_smith"]}) for _ in range(4)]
    other = make_asset(folder, actor=master, metadata={"category": "customer"})
    held.append(
        make_asset(folder, actor=master, metadata={"person": ["mary_rose"], "category": "customer"})
    )
    assert services.field_values_strip(external_id="person", batch=2) == 5
    for asset in held:
        asset.refresh_from_db()
        assert "person" not in asset.metadata
    other.refresh_from_db()
    assert other.metadata == {"category": "customer"}


def test_rules_reorder(master, three_levels):
    person = three_levels["person"]
    qa, devops = three_levels["rules"]["qa"], three_levels["rules"]["devops"]
    services.rules_reorder(actor=master, field=person, order=[devops.pk, qa.pk])
    assert [r.pk for r in selectors.field_rules(person)] == [devops.pk, qa.pk]
    with pytest.raises(ValidationFailed, match="exactly once"):
        services.rules_reorder(actor=master, field=person, order=[qa.pk])


def test_definition_changes_are_audited(master, three_levels):
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"metadata.field_create", "metadata.rule_create"} <= verbs
    services.field_update(actor=master, field=three_levels["team"], label="Squad")
    event = AuditEvent.objects.filter(verb="metadata.field_update").get()
    assert event.data == {"before": {"label": "Team"}, "after": {"label": "Squad"}}


def test_rule_summary_reads_like_a_sentence(master, three_levels):
    schema = selectors.schema_get()
    rule = MetadataRule.objects.get(name="QA people")
    assert services.rule_summary(rule, schema.by_id) == (
        "When Role equals “QA”: offer only “John Smith”, “Jane Kelly”."
    )


# -- the one write check ---------------------------------------------------------------------
def test_resolve_three_levels(three_levels):
    schema = selectors.schema_get()
    resolved = services.metadata_resolve(
        schema=schema,
        current={},
        changes={"category": "employee", "team": "rd", "role": "qa", "person": ["jane_kelly"]},
        creating=True,
    )
    assert resolved.values == {
        "category": "employee",
        "team": "rd",
        "role": "qa",
        "person": ["jane_kelly"],
    }
    with pytest.raises(ValidationFailed) as refused:
        services.metadata_resolve(
            schema=schema,
            current={},
            changes={"category": "employee", "team": "rd", "role": "qa", "person": ["paul_green"]},
            creating=True,
        )
    assert refused.value.errors == {
        "metadata.person": ["Person: “Paul Green” is not an option here."]
    }
    with pytest.raises(ValidationFailed) as refused:
        services.metadata_resolve(
            schema=schema, current={}, changes={"category": "employee", "team": "rd"}, creating=True
        )
    assert refused.value.errors == {"metadata.role": ["Role is mandatory."]}
    with pytest.raises(ValidationFailed) as refused:
        services.metadata_resolve(
            schema=schema, current={}, changes={"category": "customer", "team": "rd"}, creating=True
        )
    assert refused.value.errors == {"metadata.team": ["Team does not apply here; leave it empty."]}


def test_resolve_clears_carried_values_that_no_longer_apply(three_levels):
    schema = selectors.schema_get()
    current = {"category": "employee", "team": "rd", "role": "devops", "person": ["mary_rose"]}
    resolved = services.metadata_resolve(
        schema=schema, current=current, changes={"category": "customer"}, creating=False
    )
    assert resolved.values == {"category": "customer", "person": ["mary_rose"]}
    assert resolved.cleared == ["team", "role"]
    resolved = services.metadata_resolve(
        schema=schema, current=current, changes={"role": "qa"}, creating=False
    )
    assert resolved.cleared == ["person"] and "person" not in resolved.values


def test_resolve_type_and_range_errors_name_the_field(master):
    services.field_create(actor=master, label="Rating", type="number", min=0, max=5)
    services.field_create(actor=master, label="Shot on", type="date", max="2030-12-31")
    services.field_create(actor=master, label="Caption", type="string", min=2, max=10)
    schema = selectors.schema_get()
    cases = {
        "rating": [
            ("x", "Rating is a number."),
            (6, "Rating must be 5 or less."),
            (True, "number"),
        ],
        "shot_on": [("31/12/2020", "YYYY-MM-DD"), ("2031-01-01", "on or before 2030-12-31")],
        "caption": [("a", "at least 2"), ("x" * 11, "at most 10"), (12, "Caption is text.")],
    }
    for key, problems in cases.items():
        for value, message in problems:
            with pytest.raises(ValidationFailed) as refused:
                services.metadata_resolve(
                    schema=schema, current={}, changes={key: value}, creating=True
                )
            assert message in refused.value.errors[f"metadata.{key}"][0]
    with pytest.raises(ValidationFailed) as refused:
        services.metadata_resolve(schema=schema, current={}, changes={"nope": 1}, creating=True)
    assert "no metadata field" in refused.value.errors["metadata.nope"][0]
    ok = services.metadata_resolve(
        schema=schema,
        current={},
        changes={"rating": "4.5", "shot_on": "2020-02-29", "caption": "  ok  "},
        creating=True,
    )
    assert ok.values == {"rating": 4.5, "shot_on": "2020-02-29", "caption": "ok"}


def test_changed_validation_is_not_retroactive(master):
    f = services.field_create(actor=master, label="Caption", type="string")
    services.field_create(actor=master, label="Other", type="string")
    schema = selectors.schema_get()
    services.field_update(actor=master, field=f, max=3)
    schema = selectors.schema_get()
    # A long caption already stored stays through an edit of another field...
    kept = services.metadata_resolve(
        schema=schema, current={"caption": "long text"}, changes={"other": "x"}, creating=False
    )
    assert kept.values == {"caption": "long text", "other": "x"}
    # ...but writing it again is checked against the new limit.
    with pytest.raises(ValidationFailed):
        services.metadata_resolve(
            schema=schema, current={}, changes={"caption": "long text"}, creating=False
        )


def test_blocked_values_stay_on_assets_but_cannot_be_chosen(master):
    f = services.field_create(actor=master, label="Size", type="set", values=["S", "M", "L"])
    services.field_create(actor=master, label="Note", type="string")
    services.value_update(actor=master, value=selectors.value_get(f, "s"), blocked=True)
    schema = selectors.schema_get()
    kept = services.metadata_resolve(
        schema=schema, current={"size": ["s", "m"]}, changes={"note": "x"}, creating=False
    )
    assert kept.values["size"] == ["s", "m"]
    kept = services.metadata_resolve(
        schema=schema, current={"size": ["s"]}, changes={"size": ["s", "l"]}, creating=False
    )
    assert kept.values["size"] == ["s", "l"]
    with pytest.raises(ValidationFailed, match="blocked"):
        services.metadata_resolve(schema=schema, current={}, changes={"size": ["s"]}, creating=True)
    assert engine.evaluate(schema, {}).states["size"].options == ["m", "l"]


def test_defaults_fill_new_assets_and_empty_mandatory_fields_on_edits(master):
    services.field_create(
        actor=master,
        label="Copyright",
        type="enum",
        values=["Yes", "No"],
        default="No",
        mandatory=True,
    )
    services.field_create(actor=master, label="Source", type="string", default="Studio")
    schema = selectors.schema_get()
    new = services.metadata_resolve(schema=schema, current={}, changes=None, creating=True)
    assert new.values == {"copyright": "no", "source": "Studio"}
    edit = services.metadata_resolve(schema=schema, current={}, changes={}, creating=False)
    assert edit.values == {"copyright": "no"}  # only the mandatory one is filled on edits
    emptied = services.metadata_resolve(
        schema=schema, current={}, changes={"source": ""}, creating=True
    )
    assert emptied.values == {"copyright": "no"}  # the user removed the default
    with pytest.raises(ValidationFailed, match="Copyright is mandatory"):
        services.metadata_resolve(
            schema=schema, current={"copyright": "yes"}, changes={"copyright": None}, creating=False
        )


def test_conditional_mandatory_expiry_when_copyrighted(master):
    services.field_create(
        actor=master,
        label="Copyright",
        type="enum",
        values=["Yes", "No"],
        default="No",
        mandatory=True,
    )
    expiry = services.field_create(actor=master, label="Expiration date", type="date")
    services.rule_create(
        actor=master,
        field=expiry,
        name="Copyrighted assets expire",
        conditions=[{"field": "copyright", "op": "equals", "value": "yes"}],
        actions=[{"type": "mandatory"}],
    )
    schema = selectors.schema_get()
    assert services.metadata_resolve(
        schema=schema, current={}, changes={}, creating=True
    ).values == {"copyright": "no"}
    with pytest.raises(ValidationFailed) as refused:
        services.metadata_resolve(
            schema=schema, current={}, changes={"copyright": "yes"}, creating=True
        )
    assert refused.value.errors == {"metadata.expiration_date": ["Expiration date is mandatory."]}


# -- asset write paths -------------------------------------------------------------------
@pytest.fixture
def library(master, three_levels):
    folder = make_folder("/Staff", actor=master)
    editor, contributor = UserFactory(), UserFactory()
    grant(editor, folder, "edit")
    grant(contributor, folder, "contribute")
    return {"folder": folder, "editor": editor, "contributor": contributor}


def test_upload_with_metadata_needs_edit_level(library):
    folder = library["folder"]
    with pytest.raises(NotAllowed, match="edit access to set metadata"):
        make_asset(folder, actor=library["contributor"], metadata={"category": "customer"})
    plain = make_asset(folder, actor=library["contributor"])
    assert plain.metadata == {}
    described = make_asset(folder, actor=library["editor"], metadata={"category": "customer"})
    assert described.metadata == {"category": "customer"}


def test_a_refused_upload_stores_nothing(library, media_root):
    before = sorted(p.name for p in media_root.rglob("*") if p.is_file())
    upload = image_upload("x.jpg")
    with pytest.raises(ValidationFailed, match="Role is mandatory"):
        asset_services.asset_upload(
            actor=library["editor"],
            file=upload,
            filename=upload.name,
            folder=library["folder"],
            metadata={"category": "employee", "team": "rd"},
        )
    assert not Asset.objects.exists()
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == before


def test_edit_clears_dependents_and_audits_the_change(library):
    asset = make_asset(
        library["folder"],
        actor=library["editor"],
        metadata={"category": "employee", "team": "rd", "role": "qa", "person": ["john_smith"]},
    )
    asset = asset_services.asset_update(
        actor=library["editor"], asset=asset, metadata={"category": "customer"}
    )
    assert asset.metadata_cleared == ["team", "role"]
    asset.refresh_from_db()
    assert asset.metadata == {"category": "customer", "person": ["john_smith"]}
    event = AuditEvent.objects.filter(verb="asset.update").latest("at")
    assert event.data["before"]["metadata"] == {"category": "employee", "team": "rd", "role": "qa"}
    assert event.data["after"]["metadata"] == {"category": "customer", "team": None, "role": None}
    assert event.data["metadata_cleared"] == ["team", "role"]


def test_view_level_cannot_edit_metadata(library, master):
    viewer = UserFactory()
    grant(viewer, library["folder"], "view")
    asset = make_asset(library["folder"], actor=master)
    with pytest.raises(Exception, match="edit"):
        asset_services.asset_update(actor=viewer, asset=asset, metadata={"category": "customer"})


def test_bulk_set_metadata_clears_and_fails_per_asset(library, master):
    folder = library["folder"]
    qa = make_asset(
        folder,
        actor=master,
        metadata={"category": "employee", "team": "rd", "role": "qa", "person": ["jane_kelly"]},
    )
    customer = make_asset(folder, actor=master, metadata={"category": "customer"})
    secret = make_asset(make_folder("/Secret", actor=master), actor=master)
    result = asset_services.assets_bulk(
        actor=library["editor"],
        ids=[qa.pk, customer.pk, secret.pk],
        action="set_metadata",
        metadata={"role": "devops"},
    )
    assert result["done"] == [qa.pk]
    assert result["cleared"] == {str(qa.pk): ["person"]}
    assert result["failed"] == {
        str(customer.pk): "Role does not apply here; leave it empty.",
        str(secret.pk): "Not found.",
    }
    qa.refresh_from_db()
    assert qa.metadata == {"category": "employee", "team": "rd", "role": "devops"}
    with pytest.raises(ValidationFailed, match="no metadata field"):
        asset_services.assets_bulk(
            actor=library["editor"], ids=[qa.pk], action="set_metadata", metadata={"x": 1}
        )


def test_overwrite_keeps_or_resets_metadata_per_preference(library, master):
    from assets.models import UploadPreset
    from dam.preferences import preferences_get

    preset = UploadPreset.objects.create(name="replace", public_id_mode="filename", overwrite=True)
    first = make_asset(
        library["folder"],
        actor=master,
        name="poster.jpg",
        preset=preset,
        metadata={"category": "customer"},
    )
    again = make_asset(
        library["folder"],
        actor=master,
        name="poster.jpg",
        preset=preset,
        metadata={"person": ["mary_rose"]},
    )
    assert again.pk == first.pk and again.version == 2
    assert again.metadata == {"category": "customer", "person": ["mary_rose"]}
    prefs = preferences_get()
    prefs.keep_metadata_on_new_version = False
    prefs.save()
    third = make_asset(library["folder"], actor=master, name="poster.jpg", preset=preset)
    assert third.version == 3 and third.metadata == {}


def test_resumable_session_checks_metadata_before_any_bytes(library):
    from assets import uploads

    with pytest.raises(ValidationFailed, match="Role is mandatory"):
        uploads.upload_session_create(
            actor=library["editor"],
            folder=library["folder"],
            filename="big.jpg",
            size=10,
            metadata={"category": "employee", "team": "rd"},
        )
    session = uploads.upload_session_create(
        actor=library["editor"],
        folder=library["folder"],
        filename="big.jpg",
        size=10,
        metadata={"category": "customer"},
        context={"alt": "A poster"},
    )
    assert session.fields["metadata"] == {"category": "customer"}
    assert session.fields["context"] == {"alt": "A poster"}


def test_schema_is_cached_per_revision(django_assert_num_queries, master, three_levels):
    with django_assert_num_queries(4):  # the token, then fields, values, rules
        schema = selectors.schema_get()
    assert len(schema) == 4 and schema.drivers == {"category", "team", "role"}
    with django_assert_num_queries(1):  # the token only
        assert selectors.schema_get() is schema
    services.field_update(actor=master, field=three_levels["team"], label="Squad")
    fresh = selectors.schema_get()
    assert fresh is not schema and fresh.by_id["team"].label == "Squad"


def test_a_rolled_back_write_never_poisons_the_cache(master, three_levels):
    from django.db import transaction

    before = selectors.schema_get()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.field_update(actor=master, field=three_levels["team"], label="Squad")
        assert selectors.schema_get().by_id["team"].label == "Squad"  # inside: the new state
        raise RuntimeError
    after = selectors.schema_get()
    assert after.by_id["team"].label == "Team"
    assert selectors.schema_token() is not None and before.by_id["team"].label == "Team"


def test_a_second_admin_role_cannot_delete_or_reorder(three_levels):
    admin = AdminFactory(role=Role.ADMIN)
    with pytest.raises(NotAllowed):
        services.field_delete(actor=admin, field=three_levels["person"])
    with pytest.raises(NotAllowed):
        services.rules_reorder(actor=admin, field=three_levels["person"], order=[])
    assert MetadataValue.objects.filter(field=three_levels["person"]).count() == 4
