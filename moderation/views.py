from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import policy
from moderation import selectors


@login_required
@require_GET
def queue(request):
    if not policy.can_moderate_somewhere(request.user):
        raise Http404("No such page.")
    page = Paginator(selectors.pending_queue(user=request.user), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "moderation/queue.html", {"page": page})
