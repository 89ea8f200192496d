"""The `/history/` page: one stream's stored arrays, newest first, by pages.

Pages go back by `seq`: `?before_seq=N` lists the arrays below N, so a page
stays the same while new arrays arrive. The query string is validated like
the history API's, with the same messages.
"""

import logging

from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from generator.exceptions import ArrayStreamError
from generator.pages import history_entry
from history import selectors
from history.serializers import HistoryQuerySerializer

logger = logging.getLogger(__name__)

PAGE_SIZE = 20


def _page_url(*, stream: str, limit: int, before_seq: int | None = None) -> str:
    query = {"stream": stream}
    if limit != PAGE_SIZE:
        query["limit"] = limit
    if before_seq is not None:
        query["before_seq"] = before_seq
    return f"{reverse('history')}?{urlencode(query)}"


def history_page(request):
    """List a stream's arrays with links to each one's detail and downloads."""
    query = request.GET.copy()
    query.setdefault("limit", str(PAGE_SIZE))
    serializer = HistoryQuerySerializer(data=query)
    context = {
        "stream": "",
        "filter_value": request.GET.get("stream", ""),
        "entries": [],
        "errors": [],
        "problem": None,
    }
    if not serializer.is_valid():
        logger.warning("history page refused query=%r", dict(request.GET.items()))
        context["errors"] = [
            message for messages in serializer.errors.values() for message in messages
        ]
        return render(request, "arraystream/history.html", context, status=400)

    params = serializer.validated_data
    stream, limit, before_seq = params["stream"], params["limit"], params["before_seq"]
    context["stream"] = context["filter_value"] = stream
    try:
        found = selectors.array_list(stream=stream, before_seq=before_seq, limit=limit)
    except ArrayStreamError as error:
        context["problem"] = f"The history could not be read. {error.message}"
        return render(request, "arraystream/history.html", context, status=error.status)

    older_url = newest_url = None
    older_seq = selectors.next_before_seq(found, limit=limit)
    if older_seq is not None:
        older_url = _page_url(stream=stream, limit=limit, before_seq=older_seq)
    if before_seq is not None:
        newest_url = _page_url(stream=stream, limit=limit)
    context.update(
        {
            "entries": [history_entry(record) for record in found],
            "before_seq": before_seq,
            "newest_url": newest_url,
            "older_url": older_url,
            "live_url": f"{reverse('home')}?{urlencode({'stream': stream})}",
        }
    )
    return render(request, "arraystream/history.html", context)
