"""The one request of the Batch supported-images API: ``GET {batchUrl}/supportedimages``.

The API is read-only, so this request exists to be previewed and copied as
``curl`` (and the driver sends it for the first page of ``list_images``)::

    request = ListSupportedImages.build(filter=odata.os_type.eq("linux"), maxresults=100)
    print(driver.curl(request))

Every request carries a fresh ``client-request-id`` (a GUID the service logs
and, with ``return-client-request-id: true``, echoes back) and ``ocp-date``.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import Field

from workbench.providers.base import ApiRequest
from workbench.providers.batch.auth import ocp_date
from workbench.providers.batch.models import API_VERSION, AccountListSupportedImagesOptions
from workbench.providers.batch.odata import Expr

#: The largest page the service returns (and its default).
MAX_RESULTS = 1000


def request_headers(client_request_id: uuid.UUID | str | None = None) -> dict[str, str]:
    """The headers every Batch request carries; a new client-request-id unless given."""
    return {
        "client-request-id": str(client_request_id or uuid.uuid4()),
        "return-client-request-id": "true",
        "ocp-date": ocp_date(),
    }


class ListSupportedImages(ApiRequest):
    """One page of "list supported images" (follow ``odata.nextLink`` for more)."""

    method: ClassVar[str] = "GET"

    api_version: str = API_VERSION
    options: AccountListSupportedImagesOptions = Field(default_factory=AccountListSupportedImagesOptions)

    @classmethod
    def build(
        cls,
        *,
        filter: str | Expr | None = None,
        maxresults: int | None = None,
        timeout: int | None = None,
        api_version: str = API_VERSION,
    ) -> ListSupportedImages:
        """``filter`` is ``$filter`` text or an ``odata`` expression; both are
        checked against the subset the service supports. ``maxresults`` is
        1..1000; ``timeout`` the seconds the service may spend (it caps at 30)."""
        # By wire name, so a validation error names the parameter as the API does ("maxresults").
        options = AccountListSupportedImagesOptions.model_validate({
            "$filter": filter, "maxresults": maxresults, "timeout": timeout,
            "client-request-id": uuid.uuid4(), "return-client-request-id": True,
        })
        return cls(api_version=api_version, options=options)

    def path(self) -> str:
        return "/supportedimages"

    def query(self) -> dict[str, Any]:
        return self.options.query_params(self.api_version)

    def headers(self) -> dict[str, str]:
        headers = request_headers(self.options.client_request_id)
        headers.update(self.options.headers())  # an explicit ocp-date or flag wins
        return headers

    def summary(self) -> str:
        where = f" where {self.options.filter}" if self.options.filter else ""
        return f"List the Batch account's supported images{where}"


__all__ = ["MAX_RESULTS", "ListSupportedImages", "request_headers"]
