"""How failures are told: one message per typed error, and advice a user can act on."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from workbench.cli.profiles import explain_failure
from workbench.cli.session import CommandError, error_document, error_message, is_expected
from workbench.core.errors import ApiError, AuthError, InvalidResponse, TransportError
from workbench.profiles import MissingSecret, Profile, SecretStore

KUSTO = Profile.build("prod", "kusto", {
    "subscription_id": "12345678-1234-1234-1234-123456789098", "resource_group": "rg", "cluster": "c",
    "auth.method": "client_secret", "auth.tenant_id": "contoso.onmicrosoft.com",
    "auth.client_id": "a1b2c3d4-0000-4000-8000-00000000c11e"})
SECRETS = SecretStore(environ={})


def test_api_errors_carry_provider_status_code_and_message():
    exc = ApiError("yandex", 404, "NOT_FOUND", "Image x not found", request_id="r-1",
                   details=[{"@type": "type.googleapis.com/google.rpc.RequestInfo"}, {"code": "c", "message": "m"}])
    assert error_message(exc) == "yandex: HTTP 404 NOT_FOUND: Image x not found [request id r-1]\nc: m"
    doc = error_document(exc)["error"]
    assert (doc["type"], doc["provider"], doc["status"], doc["code"], doc["request_id"]) == (
        "ApiError", "yandex", 404, "NOT_FOUND", "r-1")


def test_validation_errors_name_the_field_once():
    class Request(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _rule(cls, value: str) -> str:
            raise ValueError("name: must start with a letter")

    with pytest.raises(ValidationError) as caught:
        Request(name="1")
    assert error_message(caught.value) == "invalid request: name: must start with a letter"
    assert error_document(caught.value)["error"]["problems"] == ["name: must start with a letter"]


def test_what_counts_as_expected():
    assert is_expected(MissingSecret("p", "f")) and is_expected(CommandError("x")) and is_expected(ValueError())
    assert not is_expected(KeyError("bug")) and not is_expected(TypeError("bug"))


@pytest.mark.parametrize("exc, words", [
    (AuthError("entra", 401, "invalid_client", "AADSTS7000215: Invalid client secret provided."),
     "authentication failed: the client secret was rejected (AADSTS7000215) — update it with "
     "`workbench profile edit prod --secret client_secret`"),
    (AuthError("entra", 400, "unauthorized_client", "AADSTS700016: Application not found in the directory"),
     "authentication failed: the application (auth.client_id) was not found in the tenant (AADSTS700016) — "
     "check it with `workbench profile show prod`"),
    (AuthError("kusto", 403, "AuthorizationFailed", "The client does not have authorization"),
     "authenticated, but not allowed: kusto answered 403 AuthorizationFailed"),
    (AuthError("kusto", 401, "ExpiredAuthenticationToken", "expired"),
     "authentication failed: the client secret was rejected (kusto answered HTTP 401 ExpiredAuthenticationToken"),
    (ApiError("kusto", 404, "ResourceNotFound", "no cluster c"),
     "not found: kusto answered 404 ResourceNotFound: no cluster c — check the profile's subscription_id, "
     "resource_group and cluster"),
    (ApiError("kusto", 503, "ServiceUnavailable", "busy"), "the service is busy or unavailable (HTTP 503"),
    (TransportError("kusto", "could not connect ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed)"),
     "TLS verification failed: could not connect ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed) — "
     "if the server uses a private CA, trust it with `workbench profile edit prod --set tls.ca_bundle=/path/to/ca.pem`"),
    (TransportError("kusto", "timed out waiting for the answer", timeout=True),
     "timed out talking to kusto"),
    (TransportError("kusto", "could not connect (ConnectError: refused)"),
     "could not reach kusto: could not connect (ConnectError: refused) — check the profile's arm_endpoint"),
    (InvalidResponse("kusto", "expected JSON, got text/html"),
     "the answer could not be used (expected JSON, got text/html) — is the profile's arm_endpoint"),
    (ValueError("client_secret: has a line break"),
     "client_secret: has a line break — update it with `workbench profile edit prod --secret client_secret`"),
    (MissingSecret("prod", "client_secret"), "profile 'prod' needs its secret 'client_secret', which is not set"),
])
def test_explain_failure(exc, words):
    assert explain_failure(KUSTO, exc, SECRETS).startswith(words)


def test_explain_failure_points_at_the_environment_variable_when_it_is_the_source():
    env = SecretStore(environ={"WORKBENCH_SECRET_PROD_CLIENT_SECRET": "x"})
    text = explain_failure(KUSTO, AuthError("entra", 401, "invalid_client", "AADSTS7000215: bad"), env)
    assert text.endswith("it comes from the environment variable WORKBENCH_SECRET_PROD_CLIENT_SECRET: update that")
