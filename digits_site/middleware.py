"""Django's CommonMiddleware, with an answer for the API when a URL lacks its trailing slash.

Django redirects ``/api/predictions`` to ``/api/predictions/`` with a 301, which turns a POST into a GET and loses its
body (and in DEBUG, raises an error page instead). Under ``/api/`` the answer is a JSON 308 here: clients that follow
redirects repeat the same POST at the right address, and the others read what to do.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware import common


class CommonMiddleware(common.CommonMiddleware):
    def _api_redirect(self, request: HttpRequest) -> HttpResponse | None:
        if not request.path.startswith("/api/") or not self.should_redirect_with_slash(request):
            return None
        location = request.path + "/" + (f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else "")
        body = {"detail": f"This address ends with a slash: {location}", "code": "trailing_slash_missing"}
        return JsonResponse(body, status=308, headers={"Location": location})

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        return self._api_redirect(request) or super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code == 404:
            redirect = self._api_redirect(request)
            if redirect is not None:
                return redirect
        return super().process_response(request, response)
