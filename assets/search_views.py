"""The search page: a search box, an advanced panel, results as the library's grid, facets
that narrow on click. Thin: the same `assets.search` as the API."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from assets import search
from assets.models import AccessMode, AssetType, ModerationStatus
from assets.search_query import QuerySyntaxError
from dam import usage
from metadata import selectors as metadata_selectors

PAGE_SIZE = 48
SORT_CHOICES = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("display_name", "Name"),
    ("-bytes", "Largest first"),
    ("relevance", "Best match"),
]


NUMBER_INPUT = re.compile(r"^\d{1,12}(\.\d{1,6})?$")
DATE_INPUT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _quote_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def panel_terms(get, schema) -> list[str]:
    """The Advanced panel's inputs as terms of the query language (one parser for all):
    dimensions, size (MB), dates, and every metadata field by its type."""
    out: list[str] = []

    def bound(name: str, field: str, pattern, scale: str = "") -> None:
        for suffix, op in (("min", ">="), ("max", "<=")):
            value = get.get(f"{name}_{suffix}", "").strip()
            if value and pattern.match(value):
                out.append(f"{field}{op}{value}{scale}")

    bound("p_width", "width", NUMBER_INPUT)
    bound("p_height", "height", NUMBER_INPUT)
    bound("p_size", "bytes", NUMBER_INPUT, "MB")
    for name, field in (("p_created", "created_at"), ("p_updated", "updated_at")):
        for suffix, op in (("from", ">="), ("to", "<=")):
            value = get.get(f"{name}_{suffix}", "").strip()
            if DATE_INPUT.match(value):
                out.append(f"{field}{op}{value}")
    for f in schema.fields:
        key = f"m_{f.external_id}"
        if f.is_list:
            chosen = [v for v in get.getlist(key) if v][:50]
            if chosen:  # any of them, blocked values included
                ors = " OR ".join(f"metadata.{f.external_id}:{_quote_value(v)}" for v in chosen)
                out.append(f"({ors})")
        elif f.type in ("number", "date"):
            pattern = NUMBER_INPUT if f.type == "number" else DATE_INPUT
            bound(key, f"metadata.{f.external_id}", pattern)
        else:
            value = get.get(key, "").strip()[:200]
            if value:
                op = "=" if get.get(f"{key}_match") == "exact" else ":"
                out.append(f"metadata.{f.external_id}{op}{_quote_value(value)}")
    return out


def _and(typed: str, terms: list[str]) -> str:
    """The typed expression and more terms, all of them required."""
    return " ".join(filter(None, [f"({typed})" if typed else "", *terms]))


def with_panel(get, terms: list[str]) -> str:
    """The search `get` asks for as the query language alone: the Advanced panel's
    `terms` (panel_terms) and the uploader folded into `expression`, their own keys
    dropped. What a saved search keeps, so its link finds the same assets."""
    if policy.is_valid_id(get.get("p_uploader")):
        terms = [*terms, f"uploader:{int(get['p_uploader'])}"]
    own = get.copy()
    for key in list(own):
        if key.startswith(("p_", "m_")) or key == "page":
            del own[key]
    if terms:
        own["expression"] = _and(own.get("expression", "").strip(), terms)
    return own.urlencode()


class OpenPage:
    """A page of a list whose end is not counted: Previous and Next (one row more than
    the page is read to know whether there is a next), no "of N"."""

    paginator = None
    MAX = 100_000

    def __init__(self, rows, raw_number, size: int) -> None:
        raw = str(raw_number or "")
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1
        self.number = min(max(number, 1), self.MAX)
        start = (self.number - 1) * size
        items = list(rows[start : start + size + 1])
        self.object_list = items[:size]
        self.has_previous = self.number > 1
        self.has_next = len(items) > size
        self.has_other_pages = self.has_previous or self.has_next
        self.previous_page_number = self.number - 1
        self.next_page_number = self.number + 1


def _uploaders():
    """Everyone who may have uploaded, inactive users too (labelled)."""
    from accounts.models import User, UserStatus

    users = User.objects.only("id", "email", "first_name", "last_name", "status")
    return [
        (
            u.pk,
            (u.get_full_name() or u.email)
            + (" (inactive)" if u.status == UserStatus.INACTIVE else ""),
        )
        for u in users.order_by("first_name", "last_name", "email")[:500]
    ]


def _similar(user, raw: str):
    """The asset to find look-alikes of (?similar=ID), if the user may see it."""
    from accounts.policy import Level

    if not raw:
        return None
    return policy.get_asset_or_404(user, raw, minimum=Level.COLLECTION)


def _clean(value: str, limit: int) -> str:
    return value.replace("\x00", "").strip()[:limit]


def _narrowed(query: QueryDict, term: str) -> str:
    """The current search with one more expression term (a facet click)."""
    q = query.copy()
    q.pop("page", None)
    current = q.get("expression", "").strip()
    q["expression"] = f"{current} {term}".strip() if term not in current else current
    return "?" + q.urlencode()


def _changed(query: QueryDict, **changes) -> str:
    """The current search with filters set (or removed: None), from its first page."""
    q = query.copy()
    q.pop("page", None)
    for key, value in changes.items():
        if value:
            q[key] = value
        else:
            q.pop(key, None)
    return "?" + q.urlencode()


def _tag_list(tags: list[str]) -> str:
    return ", ".join(tags)


def _facet_links(get, facets: dict, tags: list[str]) -> list:
    """(title, [(label, n, link)]) for type, format and tags: a click sets the filter of
    the Advanced panel it belongs to (Type, Format, Tags), shown and removable there."""
    labels = dict(AssetType.choices)
    out = []
    for key, title in (("type", "Type"), ("format", "Format"), ("tags", "Tags")):
        rows = []
        for value, n in sorted(facets[key].items(), key=lambda kv: -kv[1]):
            value = str(value)
            if key == "type":
                rows.append((labels.get(value, value), n, _changed(get, type=value)))
            elif key == "format":
                rows.append((value.upper(), n, _changed(get, format=value)))
            elif "," in value:  # the Tags field splits on commas: a query term instead
                rows.append((value, n, _narrowed(get, f"tags:{_quote_value(value)}")))
            else:
                more = tags if value in tags else [*tags, value]
                rows.append((value, n, _changed(get, tags=_tag_list(more))))
        if rows:
            out.append((title, rows))
    return out


def _active_filters(get, params) -> list[tuple[str, str]]:
    """(what, link without it) for each filter set outside the text and the query."""
    out = []
    if params.type:
        out.append((f"Type: {AssetType(params.type).label}", _changed(get, type=None)))
    if params.format:
        out.append((f"Format: {params.format.upper()}", _changed(get, format=None)))
    for tag in params.tags:
        rest = [t for t in params.tags if t != tag]
        out.append((f"Tag: {tag}", _changed(get, tags=_tag_list(rest))))
    if params.moderation_status:
        label = ModerationStatus(params.moderation_status).label
        out.append((f"Moderation: {label}", _changed(get, moderation_status=None)))
    if params.access_mode:
        label = AccessMode(params.access_mode).label
        out.append((f"Access: {label}", _changed(get, access_mode=None)))
    return out


def _metadata_facets(get, facets: dict, schema) -> list:
    """(field label, [(value label, n, link)]) for each list field with counts."""
    out = []
    for f in schema.fields:
        counts = facets.get(f"metadata.{f.external_id}")
        if not counts:
            continue
        labels = {o.external_id: o.label for o in f.options}
        rows = [
            (labels.get(value, value), n, _narrowed(get, f"metadata.{f.external_id}:{value}"))
            for value, n in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        out.append((f.label, rows))
    return out


@login_required
@require_GET
def search_page(request):
    user = policy.library_user_or_404(request.user)
    get = request.GET
    params = search.Params(
        q=_clean(get.get("q", ""), 500),
        expression=_clean(get.get("expression", ""), 2000),
        type=get.get("type", "") if get.get("type", "") in AssetType.values else "",
        format=_clean(get.get("format", ""), 16).lower(),
        tags=[t.strip() for t in _clean(get.get("tags", ""), 1000).split(",") if t.strip()][:20],
        moderation_status=get.get("moderation_status", "")
        if get.get("moderation_status", "") in ModerationStatus.values
        else "",
        access_mode=get.get("access_mode", "")
        if get.get("access_mode", "") in AccessMode.values
        else "",
        sort=get.get("sort", "-created_at") if get.get("sort") in search.SORTS else "-created_at",
        similar=_similar(user, get.get("similar", "")),
        created_by=int(get["p_uploader"]) if policy.is_valid_id(get.get("p_uploader")) else None,
    )
    schema = metadata_selectors.schema_get()
    typed = params.expression
    panel = panel_terms(get, schema)
    if panel:
        params.expression = _and(typed, panel)
    box = params.q
    box_error, typed_error = search.take_box_query(params, schema, typed)  # `tags:kitten`
    searched = any(
        (params.q, params.expression, params.type, params.format, params.tags,
         params.moderation_status, params.access_mode, params.similar, params.created_by)
    )  # fmt: skip
    # Not for a query typed in the search box.
    advanced = any(
        (typed, panel, params.type, params.format, params.tags,
         params.moderation_status, params.access_mode, params.created_by)
    )  # fmt: skip
    context = {
        "params": params,
        "box": box,
        "box_error": box_error,
        "typed_expression": typed,
        "panel": get,
        "md_rows": [
            {
                "f": f,
                "selected": set(get.getlist(f"m_{f.external_id}")),
                "min": get.get(f"m_{f.external_id}_min", ""),
                "max": get.get(f"m_{f.external_id}_max", ""),
                "text": get.get(f"m_{f.external_id}", "") if not f.is_list else "",
                "exact": get.get(f"m_{f.external_id}_match") == "exact",
            }
            for f in schema.fields
        ],
        "uploaders": _uploaders(),
        "tags_text": ", ".join(params.tags),
        "searched": searched,
        "sorts": SORT_CHOICES,
        "types": AssetType.choices,
        "statuses": ModerationStatus.choices,
        "modes": AccessMode.choices,
        "fields_help": search.FIELDS_HELP,
        "advanced_open": advanced,
    }
    from assets.models import SavedSearch

    context["current_query"] = with_panel(get, panel)
    context["saved"] = list(SavedSearch.objects.filter(user=user)[:200])
    status = 200
    if box_error is not None or typed_error is not None:
        context["syntax_error"] = typed_error
        status = 400
    elif searched:
        try:
            with search.bounded():
                found = search.find(user, params, schema=schema)
                page = OpenPage(found.rows, get.get("page"), PAGE_SIZE)
            facets = search.found_facets(found, schema)
            usage.search_done(
                q=params.q,
                expression=params.expression,
                matches=found.count,
                first_page=page.number == 1,
            )
        except QuerySyntaxError as exc:
            context["syntax_error"] = exc
            status = 400
        except search.SearchTooSlow as exc:
            context["too_slow"] = exc.message
            status = 400
        else:
            context.update(
                page=page,
                assets=page.object_list,
                count=found.count,
                count_exact=found.exact,
                facets_sampled=found.sampled,
                ranked=search.is_ranked(params),
                facet_sample=search.FACET_SAMPLE,
                facets=_facet_links(get, facets, params.tags)
                + _metadata_facets(get, facets, schema),
                active_filters=_active_filters(get, params),
            )
    return render(request, "assets/search.html", context, status=status)


@login_required
@require_GET
def search_suggest(request):
    """The top bar's suggestions while typing (htmx): the few best-matching assets the
    user may see and a link to every result; the full search if finding them is slow."""
    user = policy.library_user_or_404(request.user)
    text = _clean(request.GET.get("q", ""), 500)
    assets, slow = None, False
    try:
        with search.bounded(search.SUGGEST_TIMEOUT_MS):
            assets = search.suggestions(user, text)
    except search.SearchTooSlow:
        assets, slow = [], True
    context = {"q": text, "assets": assets or [], "slow": slow, "shown": assets is not None}
    return render(request, "assets/_suggestions.html", context)


@login_required
@require_POST
def search_save(request):
    """Save the current search under a name (the page's own query string)."""
    from django.contrib import messages

    from dam.errors import ServiceError

    user = request.user
    query = request.POST.get("query", "")
    try:
        saved = search.saved_search_create(
            actor=user, name=request.POST.get("name", ""), query=query
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('search')}?{query.lstrip('?')[:3000]}")
    messages.success(request, f"Saved “{saved.name}”. Its link finds the same assets for you.")
    return redirect(f"{reverse('search')}?{saved.query}")


@login_required
@require_POST
def search_saved_delete(request, saved_id: int):
    from django.contrib import messages

    from assets.models import SavedSearch

    saved = SavedSearch.objects.filter(pk=saved_id, user=request.user).first()
    if saved is None:
        raise Http404("No such saved search.")
    search.saved_search_delete(actor=request.user, saved=saved)
    messages.success(request, f"Deleted the saved search “{saved.name}”.")
    return redirect("search")
