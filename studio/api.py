"""Shared pieces of the REST API."""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor paging on every list: stable under inserts and fast deep into a list."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"


def paginated(view, queryset, serializer_class, *, ordering="-created_at", context=None):
    """One page of `queryset` by cursor, serialized: what every list endpoint returns."""
    paginator = CursorPagination()
    paginator.ordering = ordering
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    ctx = {"request": view.request, **(context(page) if callable(context) else context or {})}
    return paginator.get_paginated_response(serializer_class(page, many=True, context=ctx).data)
