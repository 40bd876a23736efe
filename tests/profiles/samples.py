"""One valid profile (as dotted-key assignments) for every provider and auth method."""

from __future__ import annotations

from typing import Any

GUID = "12345678-1234-1234-1234-123456789098"
CLIENT = "a1b2c3d4-0000-4000-8000-00000000c11e"

_KUSTO = {"subscription_id": GUID, "resource_group": "kustorptest", "cluster": "kustoCluster"}
_KEYSTONE = {
    "auth_url": "https://keystone.example.com:5000/v3",
    "project_name": "demo",
    "project_domain_name": "Default",
    "user_domain_name": "Default",
    "region": "RegionOne",
    "interface": "internal",
    "patch_dialect": "v2.0",
}
_BATCH = {"account_url": "https://acct.westus.batch.azure.com", "account_name": "acct"}
_YANDEX = {"folder_id": "b1gdemofolder0000000"}

#: (provider, auth method) -> assignments for Profile.build
CASES: dict[tuple[str, str], dict[str, Any]] = {
    ("kusto", "client_secret"): {
        **_KUSTO,
        "auth.method": "client_secret",
        "auth.tenant_id": "contoso.onmicrosoft.com",
        "auth.client_id": CLIENT,
        "auth.authority_host": "https://login.microsoftonline.us",
    },
    ("kusto", "azure_cli"): {**_KUSTO, "auth.method": "azure_cli", "auth.tenant_id": GUID},
    ("kusto", "static_token"): {**_KUSTO, "api_version": "2023-08-15", "auth.method": "static_token"},
    ("glance", "password"): {**_KEYSTONE, "auth.method": "password", "auth.username": "demo"},
    ("glance", "application_credential"): {
        "auth_url": "https://keystone.example.com/v3",
        "auth.method": "application_credential",
        "auth.application_credential_id": "4b2f7e1c9d8a4e6f8b1a2c3d4e5f6a7b",
    },
    ("glance", "static_token"): {"image_endpoint": "https://glance.example.com:9292", "auth.method": "static_token"},
    ("ims", "password"): {
        "auth_url": "https://iam.example.com/v3",
        "project_id": "0b1e494e2660441a957313163095fe5c",
        "user_domain_id": "default",
        "image_endpoint": "https://ims.example.com",
        "auth.method": "password",
        "auth.username": "ops",
    },
    ("ims", "application_credential"): {
        "auth_url": "https://iam.example.com/v3",
        "region": "ap-southeast-1",
        "auth.method": "application_credential",
        "auth.application_credential_id": "cred",
    },
    ("ims", "static_token"): {"image_endpoint": "https://ims.example.com", "auth.method": "static_token"},
    ("batch", "shared_key"): {**_BATCH, "auth.method": "shared_key"},
    ("batch", "client_secret"): {
        **_BATCH,
        "api_version": "2023-05-01.17.0",
        "auth.method": "client_secret",
        "auth.tenant_id": GUID,
        "auth.client_id": CLIENT,
    },
    ("batch", "static_token"): {**_BATCH, "auth.method": "static_token"},
    ("yandex", "oauth"): {**_YANDEX, "auth.method": "oauth"},
    ("yandex", "service_account_key"): {
        **_YANDEX,
        "compute_endpoint": "https://compute.api.cloud-preprod.yandex.net",
        "auth.method": "service_account_key",
        "auth.service_account_id": "ajedemoserviceacc000",
        "auth.key_id": "ajedemosakey00000000",
    },
    ("yandex", "static_token"): {**_YANDEX, "auth.method": "static_token"},
}

EXTRAS: dict[str, Any] = {
    "description": "a profile for tests",
    "tls.ca_bundle": "~/corp-ca.pem",
    "timeouts.read": 12.5,
    "timeouts.operation": 600,
}
