"""Root URL configuration. Paths have no trailing slashes (``APPEND_SLASH = False``)."""

from django.urls import include, path, re_path

from catalog import problems, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("catalog/", include("catalog.urls")),
    # Must stay last. Unknown paths get the JSON 404 even with DEBUG on, where Django would
    # otherwise render its HTML debug page instead of calling handler404.
    re_path(r"^", problems.route_not_found, name="not-found"),
]

# JSON (problem+json) error pages; Django uses these whenever DEBUG is off.
handler400 = "catalog.problems.bad_request"
handler403 = "catalog.problems.permission_denied"
handler404 = "catalog.problems.page_not_found"
handler500 = "catalog.problems.server_error"
