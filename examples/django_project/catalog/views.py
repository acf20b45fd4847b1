"""Plain views: they call the upstream and let failures raise."""

from collections.abc import Iterator

import httpx
import requests
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse


def products(request: HttpRequest) -> JsonResponse:
    response = requests.get(settings.CATALOG_UPSTREAM, timeout=2.0)
    response.raise_for_status()
    return JsonResponse(response.json(), safe=False)


async def products_async(request: HttpRequest) -> JsonResponse:
    async with httpx.AsyncClient(timeout=2.0) as client:
        response = await client.get(settings.CATALOG_UPSTREAM)
    response.raise_for_status()
    return JsonResponse(response.json(), safe=False)


def export(request: HttpRequest) -> StreamingHttpResponse:
    def rows() -> Iterator[bytes]:
        # Runs while the server sends the body: see wsgi.py for how it still gets a 502.
        with requests.get(settings.CATALOG_UPSTREAM, timeout=2.0, stream=True) as upstream:
            upstream.raise_for_status()
            yield from upstream.iter_lines()

    return StreamingHttpResponse(rows(), content_type="text/plain")


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
