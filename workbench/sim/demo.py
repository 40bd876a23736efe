"""The demo identities and credentials every simulator instance accepts.

They are public by design: the simulator is a local stand-in, and these values
let a new user (and the tests) talk to it with no cloud account.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class DemoIdentity:
    # Azure Entra (token endpoint for Kusto/ARM and Batch)
    entra_tenant_id: str = "72f988bf-0000-4000-8000-00000000d3e0"
    entra_client_id: str = "a1b2c3d4-0000-4000-8000-00000000c11e"
    entra_client_secret: str = "demo-entra-client-secret"

    # Kusto (the seed's example identifiers)
    kusto_subscription_id: str = "12345678-1234-1234-1234-123456789098"
    kusto_resource_group: str = "kustorptest"
    kusto_cluster: str = "kustoCluster"
    kusto_location: str = "westus"

    # Azure Batch
    batch_account_name: str = "demoaccount"
    batch_region: str = "westus"

    # OpenStack Keystone (Glance and IMS)
    keystone_user: str = "demo"
    keystone_password: str = "demo-password"
    keystone_project: str = "demo"
    keystone_project_id: str = "0b1e494e2660441a957313163095fe5c"
    keystone_user_domain: str = "Default"
    keystone_project_domain: str = "Default"
    keystone_region: str = "RegionOne"
    keystone_app_credential_id: str = "4b2f7e1c9d8a4e6f8b1a2c3d4e5f6a7b"
    keystone_app_credential_secret: str = "demo-app-credential-secret"

    # Yandex Cloud
    yandex_cloud_id: str = "b1gdemocloud00000000"
    yandex_folder_id: str = "b1gdemofolder0000000"
    yandex_oauth_token: str = "y0_AgAAAAdemo-oauth-token-for-the-simulator"
    yandex_service_account_id: str = "ajedemoserviceacc000"
    yandex_service_account_key_id: str = "ajedemosakey00000000"
    yandex_disk_ids: tuple[str, ...] = (
        "fhmdemodisk000000001",
        "fhmdemodisk000000002",
        "fhmdemodisk000000003",
    )
    yandex_snapshot_ids: tuple[str, ...] = (
        "fd8demosnap000000001",
        "fd8demosnap000000002",
    )

    @property
    def batch_account_key(self) -> str:
        """A fixed, valid-looking base64 account key (64 bytes, like Azure's)."""
        raw = hashlib.sha512(b"workbench-demo-batch-key").digest()
        return base64.b64encode(raw).decode()

    @cached_property
    def yandex_sa_private_key_pem(self) -> str:
        """A service-account authorized key, generated once per process."""
        return _demo_rsa_key()[0]

    @cached_property
    def yandex_sa_public_key_pem(self) -> str:
        return _demo_rsa_key()[1]


_RSA_CACHE: list[tuple[str, str]] = []


def _demo_rsa_key() -> tuple[str, str]:
    if not _RSA_CACHE:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        _RSA_CACHE.append((private, public))
    return _RSA_CACHE[0]


DEMO = DemoIdentity()
