"""The one place that decides whether a request wants a whole page or a fragment."""

import functools

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def is_partial(request: HttpRequest) -> bool:
    """True for an HTMX request that is not a boosted full-page navigation."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def vary_on_htmx(response_or_view):
    """The same URL answers with a page or a fragment, so caches must key on HX-Request.

    Takes a response (`return vary_on_htmx(render(...))`) or decorates a view."""
    if isinstance(response_or_view, HttpResponse):
        patch_vary_headers(response_or_view, ("HX-Request",))
        return response_or_view
    view = response_or_view

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        response = view(*args, **kwargs)
        patch_vary_headers(response, ("HX-Request",))
        return response

    return wrapper
