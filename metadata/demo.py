"""Demo metadata: the seed docs' three-level example plus a few everyday fields.

Used by `load_demo` (first run) and by the tests, which build the same example.
"""

from __future__ import annotations


def build_three_levels(admin) -> dict:
    """Category=Employee shows Team; Team=R&D shows Role (mandatory); Role=QA offers John
    Smith and Jane Kelly in Person, Devops offers Paul Green and Mary Rose."""
    from metadata import services

    category = services.field_create(
        actor=admin, label="Category", type="enum", values=["Employee", "Customer"]
    )
    team = services.field_create(
        actor=admin, label="Team", type="enum", hidden=True, values=["R&D", "Sales"]
    )
    role = services.field_create(
        actor=admin, label="Role", type="enum", hidden=True, values=["QA", "Devops"]
    )
    person = services.field_create(
        actor=admin,
        label="Person",
        type="set",
        values=["John Smith", "Jane Kelly", "Paul Green", "Mary Rose"],
    )
    rules = {
        "team": services.rule_create(
            actor=admin,
            field=team,
            name="Employees have a team",
            conditions=[{"field": "category", "op": "equals", "value": "employee"}],
            actions=[{"type": "show"}],
        ),
        "role": services.rule_create(
            actor=admin,
            field=role,
            name="R&D has roles",
            conditions=[{"field": "team", "op": "equals", "value": "rd"}],
            actions=[{"type": "show"}, {"type": "mandatory"}],
        ),
        "qa": services.rule_create(
            actor=admin,
            field=person,
            name="QA people",
            conditions=[{"field": "role", "op": "equals", "value": "qa"}],
            actions=[{"type": "only_options", "values": ["john_smith", "jane_kelly"]}],
        ),
        "devops": services.rule_create(
            actor=admin,
            field=person,
            name="Devops people",
            conditions=[{"field": "role", "op": "equals", "value": "devops"}],
            actions=[{"type": "only_options", "values": ["paul_green", "mary_rose"]}],
        ),
    }
    return {
        "category": category,
        "team": team,
        "role": role,
        "person": person,
        "rules": rules,
    }


def build_demo(admin) -> None:
    """The three levels, plus Copyright (mandatory, default No) with an Expiration date
    that becomes mandatory for copyrighted assets, a Region list and a Caption."""
    from metadata import services

    build_three_levels(admin)
    services.field_create(
        actor=admin,
        label="Copyright",
        type="enum",
        values=["Yes", "No"],
        default="No",
        mandatory=True,
    )
    expiry = services.field_create(actor=admin, label="Expiration date", type="date")
    services.rule_create(
        actor=admin,
        field=expiry,
        name="Copyrighted assets expire",
        conditions=[{"field": "copyright", "op": "equals", "value": "yes"}],
        actions=[{"type": "mandatory"}],
    )
    services.field_create(
        actor=admin,
        label="Region",
        type="set",
        values=["EMEA", "North America", "Latin America", "APAC", "Global"],
    )
    services.field_create(actor=admin, label="Caption", type="string", max=300)
