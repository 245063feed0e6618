"""Every JSON shape the BFF reads or writes, defined once as a pydantic model.

The models validate what comes in (report bodies, query parameters), type what goes out (the
ops answers, the ingest's 202 bodies, problem documents), and are the OpenAPI document's
``components.schemas`` (``bff.openapi``), from which the site's TypeScript types are generated
(``npm run gen:api`` in ``web/``).

* ``problem``: the RFC 9457 problem document and the errors it lists;
* ``ingest``: client-error reports, Web Vitals batches, browser reports, the 202 answers;
* ``sentry``: the parts of a Sentry envelope the ingest reads (headers, ``event`` items);
* ``events``: the client-error event every accepted report is logged as;
* ``ops``: the ops API's query parameters and answers;
* ``meta``: health answers;
* ``validation``: a pydantic ``ValidationError`` as the problem's ``errors``, query strings;
* ``document``: the OpenAPI pieces built from the models (references, responses, parameters).
"""

from __future__ import annotations

from .problem import FieldError, Problem
from .validation import field_errors, query_model, summary

__all__ = ["FieldError", "Problem", "field_errors", "query_model", "summary"]
