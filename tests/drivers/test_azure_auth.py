"""Azure authentication (Entra client credentials, Azure CLI, static token)
against the simulator's Entra token endpoint and ARM, over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from workbench.core.auth import StaticToken
from workbench.core.errors import AuthError
from workbench.core.http import HttpCore
from workbench.core.retry import RetryPolicy
from workbench.providers.azure_auth import (
    ARM_SCOPE,
    BATCH_SCOPE,
    AzureCliError,
    AzureCliToken,
    AzureCredential,
    EntraClientCredentials,
    resource_of,
    static_bearer,
)
from workbench.providers.kusto.driver import KustoDriver
from workbench.sim.config import SimConfig
from workbench.sim.server import SimServer

WRONG_SECRET = "canary-wrong-secret-7f3a9c1e"


def entra_auth(server: SimServer, http: HttpCore, *, scope: str = ARM_SCOPE, secret: str | None = None,
               tenant: str | None = None, authority: str | None = None, clock=time.time) -> EntraClientCredentials:
    creds = server.endpoints["entra_credentials"]
    return EntraClientCredentials(
        tenant_id=tenant or creds["tenant_id"],
        client_id=creds["client_id"],
        client_secret=secret or creds["client_secret"],
        scope=scope,
        http=http,
        authority=authority or server.endpoints["entra"],
        clock=clock,
    )


def kusto_list_url(server: SimServer) -> str:
    ids = server.endpoints["kusto_ids"]
    return (f"{server.endpoints['kusto']}/subscriptions/{ids['subscription_id']}/resourceGroups/"
            f"{ids['resource_group']}/providers/Microsoft.Kusto/clusters/{ids['cluster']}/sandboxCustomImages"
            "?api-version=2024-04-13")


def log_text(http: HttpCore) -> str:
    return json.dumps([entry.as_dict() for entry in http.log.entries()])


def token_requests(http: HttpCore) -> list:
    return [e for e in http.log.entries() if e.method == "POST" and "/oauth2/v2.0/token" in e.url]


async def expire_tokens(server: SimServer) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(server.endpoints["admin"] + "/tokens/expire")
        assert answer.status_code == 200 and answer.json()["expired"] >= 1


# -- Entra client credentials --------------------------------------------------


async def test_client_credentials_get_a_token_the_service_accepts(sim_server):
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http)
        before = time.time()
        token = await auth.cache.get()
    issued = sim_server.context.tokens.check("arm", token.value)
    assert issued is not None and issued.subject == sim_server.endpoints["entra_credentials"]["client_id"]
    # expires_in (3600 s) became an absolute expiry
    assert before + 3600 - 5 <= token.expires_at <= time.time() + 3600 + 5
    [entry] = token_requests(http)
    assert entry.url == (f"{sim_server.endpoints['entra']}/{sim_server.endpoints['entra_credentials']['tenant_id']}"
                         "/oauth2/v2.0/token")
    assert "grant_type=client_credentials" in entry.request_body
    assert "scope=https://management.azure.com/.default" in entry.request_body
    assert "client_secret=***" in entry.request_body
    # neither the secret nor the token is stored in the log
    text = log_text(http)
    assert sim_server.endpoints["entra_credentials"]["client_secret"] not in text
    assert token.value not in text
    assert "access_token" in text and '"access_token": "***"' in entry.response_body


async def test_the_batch_scope_gets_a_batch_token(sim_server):
    async with HttpCore() as http:
        token = await entra_auth(sim_server, http, scope=BATCH_SCOPE).cache.get()
    assert sim_server.context.tokens.check("batch", token.value) is not None
    assert sim_server.context.tokens.check("arm", token.value) is None


async def test_the_token_is_cached_and_one_fetch_serves_many_concurrent_requests(sim_server):
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http)
        requests = [httpx.Request("GET", "http://x.test/") for _ in range(100)]
        await asyncio.gather(*(auth.apply(r) for r in requests))
        await auth.apply(httpx.Request("GET", "http://x.test/again"))
    assert auth.cache.fetches == 1
    assert len(token_requests(http)) == 1
    assert len({r.headers["Authorization"] for r in requests}) == 1
    assert requests[0].headers["Authorization"].startswith("Bearer eyJ0eXAi.arm.")


async def test_a_token_is_refreshed_shortly_before_it_expires(sim_server):
    now = [time.time()]
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http, clock=lambda: now[0])
        first = await auth.cache.get()
        now[0] = first.expires_at - 301  # outside the 300 s margin: still cached
        assert (await auth.cache.get()) is first
        now[0] = first.expires_at - 299  # inside it: fetched again before it can fail
        second = await auth.cache.get()
    assert second.value != first.value
    assert auth.cache.fetches == 2 and len(token_requests(http)) == 2


async def test_an_expired_token_is_refreshed_once_on_401(sim_server):
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http)
        url = kusto_list_url(sim_server)
        assert (await http.request("GET", url, provider="kusto", auth=auth)).status_code == 200
        await expire_tokens(sim_server)  # the server forgets the cached token
        response = await http.request("GET", url, provider="kusto", auth=auth)
    assert response.status_code == 200
    assert auth.cache.fetches == 2
    statuses = [(e.method, e.status) for e in http.log.entries() if e.method == "GET"]
    assert statuses == [("GET", 200), ("GET", 401), ("GET", 200)]


async def test_a_second_401_after_the_refresh_is_final():
    # Tokens that are dead on arrival: the one refresh cannot help, and the
    # request is not tried a third time.
    with SimServer(SimConfig(token_ttl=0)) as server:
        async with HttpCore(retry=RetryPolicy(max_attempts=3)) as http:
            auth = entra_auth(server, http)
            with pytest.raises(AuthError) as caught:
                await http.request("GET", kusto_list_url(server), provider="kusto", auth=auth)
    assert caught.value.status == 401
    assert caught.value.code == "InvalidAuthenticationToken"
    api_attempts = [e for e in http.log.entries() if e.method == "GET"]
    assert [e.status for e in api_attempts] == [401, 401]


async def test_a_wrong_secret_is_an_auth_error_that_never_shows_the_secret(sim_server):
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http, secret=WRONG_SECRET)
        with pytest.raises(AuthError) as caught:
            await auth.cache.get()
    error = caught.value
    assert (error.status, error.code) == (401, "invalid_client")
    assert error.message.startswith("AADSTS7000215: Invalid client secret provided.")
    assert error.request_id  # Entra's trace id, for support
    assert WRONG_SECRET not in str(error) and WRONG_SECRET not in repr(error)
    assert WRONG_SECRET not in (error.request.text or "") and WRONG_SECRET not in error.raw_text
    assert WRONG_SECRET not in log_text(http)
    assert WRONG_SECRET not in repr(auth)


async def test_an_unknown_tenant_is_reported_by_name(sim_server):
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http, tenant="00000000-0000-4000-8000-00000000beef")
        with pytest.raises(AuthError) as caught:
            await auth.cache.get()
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
    assert "Tenant '00000000-0000-4000-8000-00000000beef' not found" in caught.value.message


async def test_the_authority_host_is_configurable(sim_server):
    async with HttpCore() as http:
        auth = entra_auth(sim_server, http, authority=sim_server.endpoints["entra"] + "/")
        assert auth.token_url.startswith(sim_server.endpoints["entra"] + "/")
        assert "//" not in auth.token_url.removeprefix("http://")
        await auth.cache.get()
        default = EntraClientCredentials(tenant_id="contoso.onmicrosoft.com", client_id="c", client_secret="s",
                                         scope=ARM_SCOPE, http=http)
    assert default.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"scope": "https://management.azure.com/"}, "scope"),
    ({"scope": "user.read"}, "scope"),
    ({"client_secret": " "}, "client_secret"),
    ({"tenant_id": ""}, "tenant_id"),
    ({"authority": "login.microsoftonline.com"}, "authority"),
])
def test_bad_client_credential_settings_name_the_field(kwargs, field):
    settings = {"tenant_id": "t", "client_id": "c", "client_secret": "s", "scope": ARM_SCOPE, "http": None, **kwargs}
    with pytest.raises(ValueError, match=rf"^{field}: "):
        EntraClientCredentials(**settings)


# -- Azure CLI -----------------------------------------------------------------


def install_fake_az(directory: Path, monkeypatch: pytest.MonkeyPatch, program: str) -> Path:
    """An executable ``az`` (a Python script) first on PATH; it logs its arguments."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "az"
    calls = directory / "calls.jsonl"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time, urllib.parse, urllib.request\n"
        f"with open({str(calls)!r}, 'a') as log: log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        + program
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return calls


def calls_of(calls: Path) -> list[list[str]]:
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


async def test_azure_cli_token_with_expires_on(tmp_path, monkeypatch):
    calls = install_fake_az(tmp_path / "bin", monkeypatch, (
        "print(json.dumps({'accessToken': 'cli-token-0123456789', 'expiresOn': '2031-01-01 10:00:00.000000',"
        " 'expires_on': 1924992000, 'subscription': 'sub', 'tenant': 'tenant', 'tokenType': 'Bearer'}))\n"
    ))
    auth = AzureCliToken(scope=ARM_SCOPE)
    request = httpx.Request("GET", "https://management.azure.com/")
    await auth.apply(request)
    await auth.apply(httpx.Request("GET", "https://management.azure.com/"))  # cached
    assert request.headers["Authorization"] == "Bearer cli-token-0123456789"
    assert auth.cache.token.expires_at == 1924992000  # epoch expires_on wins over local expiresOn
    assert calls_of(calls) == [["account", "get-access-token", "--resource", "https://management.azure.com/",
                                "-o", "json"]]


async def test_azure_cli_token_from_an_older_cli_with_local_expires_on_and_a_tenant(tmp_path, monkeypatch):
    calls = install_fake_az(tmp_path / "bin", monkeypatch, (
        "print(json.dumps({'accessToken': 'old-cli-token-0123', 'expiresOn': '2031-01-01 10:00:00.000000'}))\n"
    ))
    auth = AzureCliToken(scope=BATCH_SCOPE, tenant_id="contoso.onmicrosoft.com")
    token = await auth.cache.get()
    assert token.value == "old-cli-token-0123"
    assert token.expires_at == datetime(2031, 1, 1, 10, 0, 0).timestamp()  # local time, as az writes it
    assert calls_of(calls) == [["account", "get-access-token", "--resource", "https://batch.core.windows.net/",
                                "-o", "json", "--tenant", "contoso.onmicrosoft.com"]]


async def test_a_missing_azure_cli_is_a_clear_error(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(AzureCliError, match=r"Azure CLI \('az'\) was not found on PATH: install it and run 'az login'"):
        await AzureCliToken(scope=ARM_SCOPE).cache.get()


async def test_an_azure_cli_that_is_not_logged_in_says_to_run_az_login(tmp_path, monkeypatch):
    install_fake_az(tmp_path / "bin", monkeypatch, (
        "sys.stderr.write(\"ERROR: Please run 'az login' to setup account.\\n\")\n"
        "sys.exit(1)\n"
    ))
    with pytest.raises(AzureCliError) as caught:
        await AzureCliToken(scope=ARM_SCOPE).cache.get()
    assert "not signed in: run 'az login'" in str(caught.value)
    assert "Please run 'az login' to setup account." in str(caught.value)


async def test_other_azure_cli_failures_carry_the_exit_status_and_message(tmp_path, monkeypatch):
    install_fake_az(tmp_path / "bin", monkeypatch, (
        "sys.stderr.write('ERROR: AADSTS50173: The provided grant has expired due to it being revoked.\\n')\n"
        "sys.exit(2)\n"
    ))
    with pytest.raises(AzureCliError, match=r"failed with exit status 2: ERROR: AADSTS50173"):
        await AzureCliToken(scope=ARM_SCOPE).cache.get()


@pytest.mark.parametrize(("output", "message"), [
    ("print('Welcome to Azure CLI!')", "printed something that is not JSON"),
    ("print(json.dumps({'tokenType': 'Bearer'}))", "answered without an accessToken"),
])
async def test_unusable_azure_cli_output_is_reported(tmp_path, monkeypatch, output, message):
    install_fake_az(tmp_path / "bin", monkeypatch, output + "\n")
    with pytest.raises(AzureCliError, match=message):
        await AzureCliToken(scope=ARM_SCOPE).cache.get()


async def test_a_hung_azure_cli_is_stopped(tmp_path, monkeypatch):
    install_fake_az(tmp_path / "bin", monkeypatch, "time.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(AzureCliError, match=r"did not answer within 0.5 s"):
        await AzureCliToken(scope=ARM_SCOPE, timeout=0.5).cache.get()
    assert time.monotonic() - started < 10


async def test_azure_cli_tokens_work_against_arm_and_are_refreshed_on_401(sim_server, tmp_path, monkeypatch):
    # This az signs in as the demo app registration at the simulator's Entra
    # endpoint, so each call yields a new, real token.
    creds = sim_server.endpoints["entra_credentials"]
    form = {"grant_type": "client_credentials", "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "scope": ARM_SCOPE}
    calls = install_fake_az(tmp_path / "bin", monkeypatch, (
        f"data = urllib.parse.urlencode({form!r}).encode()\n"
        f"body = json.load(urllib.request.urlopen({creds['token_url']!r}, data=data))\n"
        "print(json.dumps({'accessToken': body['access_token'], 'expires_on': int(time.time()) + body['expires_in'],"
        " 'tokenType': 'Bearer'}))\n"
    ))
    ids = sim_server.endpoints["kusto_ids"]
    async with KustoDriver.connect(subscription_id=ids["subscription_id"], resource_group=ids["resource_group"],
                                   cluster=ids["cluster"], base_url=sim_server.endpoints["kusto"],
                                   credential=AzureCredential("azure_cli")) as driver:
        names = [image.name async for image in driver.list_images()]
        await expire_tokens(sim_server)
        image = await driver.get_image(names[0])
    assert "customImage1" in names and image.name == names[0]
    assert len(calls_of(calls)) == 2  # once at first, once after the 401
    assert [e.status for e in driver.http.log.entries()] == [200, 401, 200]


# -- static token ----------------------------------------------------------------


def test_static_bearer_takes_a_pasted_token():
    assert static_bearer("  Bearer abc.def-123  ").value == "Bearer abc.def-123"
    assert static_bearer("abc").header == "Authorization"
    with pytest.raises(ValueError, match="^token: required"):
        static_bearer("   ")
    with pytest.raises(ValueError, match="^token: a bearer token has no spaces"):
        static_bearer("abc def")


async def test_a_static_token_works_until_it_expires_and_is_never_refreshed(sim_server):
    auth = static_bearer(sim_server.endpoints["tokens"]["kusto"])
    async with HttpCore() as http:
        url = kusto_list_url(sim_server)
        assert (await http.request("GET", url, provider="kusto", auth=auth)).status_code == 200
        await expire_tokens(sim_server)
        with pytest.raises(AuthError) as caught:
            await http.request("GET", url, provider="kusto", auth=auth)
    assert caught.value.status == 401
    assert [e.status for e in http.log.entries()] == [200, 401]  # no second try: nothing to refresh
    assert sim_server.endpoints["tokens"]["kusto"] not in log_text(http)


# -- settings ------------------------------------------------------------------


def test_azure_credential_names_what_is_missing():
    with pytest.raises(ValueError, match="^client_id, client_secret: required when method is 'client_secret'"):
        AzureCredential("client_secret", tenant_id="t")
    with pytest.raises(ValueError, match="^token: required when method is 'static'"):
        AzureCredential("static")
    with pytest.raises(ValueError, match="^method: must be one of client_secret, azure_cli, static"):
        AzureCredential("password")  # type: ignore[arg-type]
    assert "hunter2" not in repr(AzureCredential("client_secret", tenant_id="t", client_id="c",
                                                 client_secret="hunter2"))


async def test_azure_credential_builds_each_kind():
    async with HttpCore() as http:
        entra = AzureCredential("client_secret", tenant_id="t", client_id="c", client_secret="s",
                                authority="https://login.microsoftonline.us").build(scope=BATCH_SCOPE, http=http)
        cli = AzureCredential("azure_cli", az_command="az2").build(scope=ARM_SCOPE, http=http)
        static = AzureCredential("static", token="tok").build(scope=ARM_SCOPE, http=http)
    assert isinstance(entra, EntraClientCredentials)
    assert entra.token_url == "https://login.microsoftonline.us/t/oauth2/v2.0/token"
    assert entra.scope == BATCH_SCOPE and "s" in entra.secrets()
    assert isinstance(cli, AzureCliToken) and cli.command == "az2" and cli.resource == "https://management.azure.com/"
    assert isinstance(static, StaticToken) and static.value == "Bearer tok"


def test_resource_of_a_scope():
    assert resource_of(ARM_SCOPE) == "https://management.azure.com/"
    assert resource_of("https://batch.core.windows.net//.default") == "https://batch.core.windows.net/"


def _running(pid: int) -> bool:
    """Whether ``pid`` still exists (a zombie counts: it was never reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("through_the_cache", [False, True])
async def test_a_cancelled_token_fetch_kills_and_reaps_az(tmp_path, monkeypatch, through_the_cache):
    pid_file = tmp_path / "az.pid"
    install_fake_az(tmp_path / "bin", monkeypatch, (
        "import os\n"
        f"open({str(pid_file)!r} + '.part', 'w').write(str(os.getpid()))\n"
        f"os.replace({str(pid_file)!r} + '.part', {str(pid_file)!r})\n"
        "time.sleep(60)\n"
    ))
    auth = AzureCliToken(scope=ARM_SCOPE, timeout=120)
    task = asyncio.create_task(auth.cache.get() if through_the_cache else auth.fetch_token())
    deadline = time.monotonic() + 30
    while not pid_file.exists():  # az is running (and sleeping)
        assert not task.done(), task
        assert time.monotonic() < deadline, "the fake az did not start in time"
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    assert _running(pid)
    try:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Gone the moment the cancelled fetch returns: killed and reaped, not left for 60 s or as a zombie.
        assert not _running(pid)
    finally:
        if _running(pid):
            os.kill(pid, 9)
