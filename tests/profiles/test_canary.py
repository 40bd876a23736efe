"""A canary secret, used through a whole session of profile work, shows up only in the keyring."""

from __future__ import annotations

import base64
import logging
import uuid

import keyring
import pytest
import yaml
from keyring.backends import fail

from workbench.profiles import (
    MissingSecret,
    NoSecureKeyring,
    Profile,
    ProfileError,
    SecretStore,
)
from workbench.profiles.importers import from_clouds_yaml, from_environment, from_yandex_cli

from .samples import CASES
from .test_store import EXAMPLES


@pytest.fixture
def canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def test_canary_secret_only_in_the_keyring(
    store, memory_keyring, workbench_home, tmp_path, caplog, monkeypatch, canary
):
    caplog.set_level(logging.DEBUG)
    said: list[str] = []  # everything the session would show a user: messages, reprs, warnings

    # Profiles for every provider and auth method, each secret set to a canary.
    for provider, method in CASES:
        name = f"c-{provider}-{method}".replace("_", "-")
        profile = store.save(Profile.build(name, provider, CASES[(provider, method)]))
        for field in profile.secret_fields:
            store.secrets.set(name, field, f"{canary}-{field}")
            assert store.secrets.require(name, field) == f"{canary}-{field}"
        said += [repr(profile), str(profile.to_toml_dict()), *profile.warnings]

    # Edit, rename, remove, list, import the examples.
    edited = store.load("c-kusto-client-secret").with_settings({"description": "edited", "tls.verify": False})
    said += store.save(edited).warnings
    store.rename("c-kusto-client-secret", "renamed")
    store.remove("c-batch-shared-key")
    for example in EXAMPLES.glob("*.toml"):
        store.import_file(example, name=f"ex-{example.stem}")
    listing = store.list()
    said += [repr(p) for p in listing.profiles] + [str(e) for e in listing.errors]

    # Importers: clouds.yaml, OS_* and the Yandex CLI, all carrying the canary.
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        yaml.safe_dump(
            {
                "clouds": {
                    "os": {
                        "auth": {
                            "auth_url": "https://k.example.com/v3",
                            "username": "u",
                            "password": canary,
                            "project_id": "p",
                            "user_domain_name": "Default",
                        }
                    }
                }
            }
        )
    )
    yc = tmp_path / "config.yaml"
    yc.write_text(yaml.safe_dump({"profiles": {"me": {"token": canary, "folder-id": "f"}}}))
    env = {
        "OS_AUTH_URL": "https://k.example.com/v3",
        "OS_APPLICATION_CREDENTIAL_ID": "id",
        "OS_APPLICATION_CREDENTIAL_SECRET": canary,
    }
    for report in (from_clouds_yaml(clouds), from_yandex_cli(yc), from_environment(env, name="env")):
        said += report.problems
        for candidate in report.candidates:
            said.append(repr(candidate))
            candidate.save(store)

    # Failures along the way: none may echo the canary.
    leaky = tmp_path / "leaky.toml"
    leaky.write_text(
        f'provider = "yandex"\n[yandex]\nfolder_id = "f"\noauth_token = "{canary}"\n[yandex.auth]\nmethod = "oauth"\n'
    )
    with pytest.raises(ProfileError) as error:
        store.import_file(leaky)
    said.append(str(error.value))
    with pytest.raises(ProfileError) as error:
        Profile.build("x", "kusto", {"cluster": canary + "/", "auth.token": canary})
    said.append(str(error.value))
    with pytest.raises(MissingSecret) as error:
        store.secrets.require("ex-kusto", "client_secret")
    said.append(str(error.value))
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(NoSecureKeyring) as error:
            SecretStore().set("renamed", "client_secret", canary)
        said.append(str(error.value))
    finally:
        keyring.set_keyring(memory_keyring)
    monkeypatch.setenv("WORKBENCH_SECRET_RENAMED_CLIENT_SECRET", canary)
    assert store.secrets.get("renamed", "client_secret") == canary
    said.append(str(store.secrets.status("renamed", "client_secret")))

    # Positive control: the canary really went through, into the keyring.
    stored = "\n".join(memory_keyring.entries.values())
    assert canary in stored
    assert ("workbench", "renamed:client_secret") in memory_keyring.entries
    assert ("workbench", "c-batch-shared-key:account_key") not in memory_keyring.entries

    # Nowhere else: not in any file under WORKBENCH_HOME (plain, base64 or hex), logs or messages.
    forms = [canary.encode(), base64.b64encode(canary.encode()), canary.encode().hex().encode()]
    files = [p for p in workbench_home.rglob("*") if p.is_file()]
    assert len(files) >= 20
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form not in data, path
    assert caplog.records  # the session did log
    assert canary not in caplog.text
    for text in said:
        assert canary not in text, text
