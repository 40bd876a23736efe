"""One ASGI app serving all four services, their token endpoints and an admin API.

Every service lives under its own path prefix on one host, and each prefix is
that service's root exactly as its clients expect it (see ``PREFIXES``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext

#: endpoint key -> path prefix of that service's root on the simulator
PREFIXES: dict[str, str] = {
    "kusto": "/kusto",  # ARM root: what KustoManagementClient(base_url=...) takes
    "glance": "/glance",  # image endpoint root (version discovery at "/")
    "ims": "/ims",  # the same API in Huawei IMS flavour
    "batch": "/batch",  # the Batch account URL ({batchUrl})
    "yandex_compute": "/yandex/compute",  # compute.api.cloud.yandex.net
    "yandex_operation": "/yandex/operation",  # operation.api.cloud.yandex.net
    "entra": "/entra",  # authority host (login.microsoftonline.com)
    "keystone": "/keystone/v3",  # Keystone v3 auth_url
    "yandex_iam": "/yandex/iam",  # iam.api.cloud.yandex.net
}


def build_app(config: SimConfig | None = None, context: SimContext | None = None) -> Starlette:
    """The simulator as an ASGI app; its state lives in ``app.state.sim``."""
    ctx = context or SimContext(config or SimConfig())
    # Imported here so that each service is one module and the CLI stays light.
    from workbench.sim import batch, entra, glance, keystone, kusto, yandex, yandex_iam

    routes: list[BaseRoute] = [Mount("/_sim", routes=_admin_routes(ctx))]
    for service in (kusto, entra, glance, keystone, batch, yandex, yandex_iam):
        routes.extend(service.mounts(ctx))
    app = Starlette(routes=routes)
    app.state.sim = ctx
    return app


def endpoints_document(base_url: str, ctx: SimContext) -> dict:
    """What ``workbench sim`` prints: URLs, demo identifiers and ready tokens."""
    base = base_url.rstrip("/")
    demo = ctx.demo
    doc: dict = {key: base + prefix for key, prefix in PREFIXES.items()}
    doc["admin"] = base + "/_sim"
    doc["kusto_ids"] = {
        "subscription_id": demo.kusto_subscription_id,
        "resource_group": demo.kusto_resource_group,
        "cluster": demo.kusto_cluster,
        "location": demo.kusto_location,
    }
    doc["batch_account"] = {"name": demo.batch_account_name, "key": demo.batch_account_key}
    doc["entra"] = base + PREFIXES["entra"]
    doc["entra_credentials"] = {
        "tenant_id": demo.entra_tenant_id,
        "client_id": demo.entra_client_id,
        "client_secret": demo.entra_client_secret,
        "token_url": f"{base}{PREFIXES['entra']}/{demo.entra_tenant_id}/oauth2/v2.0/token",
    }
    doc["keystone_credentials"] = {
        "username": demo.keystone_user,
        "password": demo.keystone_password,
        "project_name": demo.keystone_project,
        "project_id": demo.keystone_project_id,
        "user_domain_name": demo.keystone_user_domain,
        "project_domain_name": demo.keystone_project_domain,
        "region_name": demo.keystone_region,
        "application_credential_id": demo.keystone_app_credential_id,
        "application_credential_secret": demo.keystone_app_credential_secret,
    }
    doc["yandex_ids"] = {
        "cloud_id": demo.yandex_cloud_id,
        "folder_id": demo.yandex_folder_id,
        "disk_ids": list(demo.yandex_disk_ids),
        "snapshot_ids": list(demo.yandex_snapshot_ids),
    }
    doc["yandex_credentials"] = {
        "oauth_token": demo.yandex_oauth_token,
        "service_account_key": {
            "id": demo.yandex_service_account_key_id,
            "service_account_id": demo.yandex_service_account_id,
            "key_algorithm": "RSA_2048",
            "private_key": demo.yandex_sa_private_key_pem,
        },
    }
    lifetime = 365 * 24 * 3600  # valid while the simulator runs
    keystone_token = ctx.tokens.issue("keystone", demo.keystone_user, ttl=lifetime, project_id=demo.keystone_project_id)
    doc["tokens"] = {
        "kusto": ctx.tokens.issue("arm", demo.entra_client_id, ttl=lifetime).value,
        "batch": ctx.tokens.issue("batch", demo.entra_client_id, ttl=lifetime).value,
        "glance": keystone_token.value,
        "ims": keystone_token.value,
        "yandex": ctx.tokens.issue("yandex", demo.yandex_service_account_id, ttl=lifetime).value,
    }
    return doc


def _admin_routes(ctx: SimContext) -> list[BaseRoute]:
    async def faults(request: Request) -> JSONResponse:
        if request.method == "PUT":
            try:
                ctx.faults.update(await request.json())
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(ctx.faults.settings())

    async def expire_tokens(request: Request) -> JSONResponse:
        return JSONResponse({"expired": ctx.tokens.expire_all()})

    async def endpoints(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/").removesuffix("/_sim")
        return JSONResponse(endpoints_document(base, ctx))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "services": sorted(ctx.states)})

    return [
        Route("/faults", faults, methods=["GET", "PUT"]),
        Route("/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/endpoints", endpoints, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
