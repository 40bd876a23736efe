"""Importers: clouds.yaml (+ secure.yaml), OS_* variables, Yandex CLI config, the simulator."""

from __future__ import annotations

import pytest
import yaml

from workbench.profiles import NoSecureKeyring, ProfileError
from workbench.profiles.importers import (
    find_clouds_yaml,
    from_clouds_yaml,
    from_environment,
    from_simulator,
    from_yandex_cli,
    profile_name_from,
)

CLOUDS = {
    "clouds": {
        "devstack": {
            "auth": {
                "auth_url": "https://keystone.example.com:5000/v3",
                "username": "demo",
                "password": "devstack-password",
                "project_name": "demo",
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": "RegionOne",
            "interface": "internal",
            "identity_api_version": 3,
        },
        "App Cred": {
            "auth_type": "v3applicationcredential",
            "auth": {
                "auth_url": "https://keystone.example.com:5000/v3",
                "application_credential_id": "4b2f7e1c9d8a4e6f8b1a2c3d4e5f6a7b",
                "application_credential_secret": "app-cred-secret",
            },
            "regions": ["RegionTwo", "RegionThree"],
            "verify": False,
        },
        "from-secure": {
            "auth": {
                "auth_url": "https://other.example.com/v3",
                "username": "ops",
                "project_id": "0b1e494e2660441a957313163095fe5c",
                "user_domain_id": "default",
            },
            "cacert": "/etc/ssl/corp.pem",
        },
        "oidc": {"auth_type": "v3oidcpassword", "auth": {"auth_url": "https://k/v3"}},
        "vendor": {
            "profile": "vexxhost",
            "auth": {"username": "u", "password": "p", "project_id": "x", "user_domain_name": "Default"},
        },
    }
}
SECURE = {"clouds": {"from-secure": {"auth": {"password": "secure-yaml-password"}}}}


@pytest.fixture
def clouds_file(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(CLOUDS))
    (tmp_path / "secure.yaml").write_text(yaml.safe_dump(SECURE))
    return path


def by_name(report):
    return {c.profile.name: c for c in report.candidates}


def test_clouds_yaml_with_password_and_application_credential(clouds_file):
    report = from_clouds_yaml(clouds_file)
    found = by_name(report)
    assert sorted(found) == ["app-cred", "devstack", "from-secure"]

    devstack = found["devstack"]
    settings = devstack.profile.settings
    assert devstack.profile.provider == "glance"
    assert settings.auth_url == "https://keystone.example.com:5000/v3"
    assert (settings.project_name, settings.user_domain_name, settings.project_domain_name) == (
        "demo",
        "Default",
        "Default",
    )
    assert (settings.region, settings.interface) == ("RegionOne", "internal")
    assert devstack.profile.auth.method == "password" and devstack.profile.auth.username == "demo"
    assert devstack.secrets == {"password": "devstack-password"}

    app = found["app-cred"]
    assert app.profile.auth.method == "application_credential"
    assert app.profile.auth.application_credential_id == "4b2f7e1c9d8a4e6f8b1a2c3d4e5f6a7b"
    assert app.profile.settings.region == "RegionTwo"  # openstacksdk's default: the first region
    assert app.profile.tls.verify is False and app.profile.warnings
    assert app.secrets == {"application_credential_secret": "app-cred-secret"}

    secure = found["from-secure"]
    assert secure.secrets == {"password": "secure-yaml-password"}  # merged from secure.yaml
    assert secure.profile.settings.project_id == "0b1e494e2660441a957313163095fe5c"
    assert secure.profile.tls.ca_bundle == "/etc/ssl/corp.pem"

    problems = "\n".join(report.problems)
    assert "cloud 'oidc': auth_type 'v3oidcpassword' is not supported" in problems
    assert "cloud 'vendor': glance.auth_url: required" in problems and "vendor profile 'vexxhost'" in problems
    for candidate in report.candidates:  # secrets never show in a repr
        for value in candidate.secrets.values():
            assert value not in repr(candidate)


def test_one_cloud_by_name_for_ims(clouds_file):
    report = from_clouds_yaml(clouds_file, cloud="devstack", provider="ims", name="huawei")
    assert [c.profile.name for c in report.candidates] == ["huawei"]
    assert report.candidates[0].profile.provider == "ims"
    with pytest.raises(ProfileError, match="no cloud named 'nope'"):
        from_clouds_yaml(clouds_file, cloud="nope")


def test_clouds_yaml_search_path(tmp_path, monkeypatch, clouds_file):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    user_file = tmp_path / "xdg" / "openstack" / "clouds.yaml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(yaml.safe_dump({"clouds": {"mine": CLOUDS["clouds"]["devstack"]}}))
    assert find_clouds_yaml({}) == user_file
    assert [c.profile.name for c in from_clouds_yaml(environ={}).candidates] == ["mine"]

    (workdir / "clouds.yml").write_text(yaml.safe_dump({"clouds": {"local": CLOUDS["clouds"]["devstack"]}}))
    assert find_clouds_yaml({}) == workdir / "clouds.yml"  # the current directory comes first

    assert find_clouds_yaml({"OS_CLIENT_CONFIG_FILE": str(clouds_file)}) == clouds_file
    report = from_clouds_yaml(environ={"OS_CLIENT_CONFIG_FILE": str(clouds_file)}, cloud="devstack")
    assert report.source == clouds_file


def test_no_clouds_yaml_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    if find_clouds_yaml({}) is not None:
        pytest.skip("this machine has a site-wide clouds.yaml")
    with pytest.raises(ProfileError, match="no clouds.yaml found"):
        from_clouds_yaml(environ={})


def test_bad_yaml_is_reported_with_its_position(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds:\n  a: [\n")
    with pytest.raises(ProfileError, match=r"clouds.yaml: not valid YAML \(line \d+, column \d+\)"):
        from_clouds_yaml(path)


def test_os_environment_password():
    env = {
        "OS_AUTH_URL": "https://keystone.example.com/v3",
        "OS_USERNAME": "demo",
        "OS_PASSWORD": "env-password",
        "OS_PROJECT_NAME": "Demo Project",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne",
        "OS_INTERFACE": "public",
    }
    report = from_environment(env)
    [candidate] = report.candidates
    assert candidate.profile.name == "demo-project"
    assert candidate.profile.settings.project_name == "Demo Project"
    assert candidate.profile.settings.region == "RegionOne"
    assert candidate.secrets == {"password": "env-password"}
    assert from_environment(env, name="mine", provider="ims").candidates[0].profile.name == "mine"


def test_os_environment_application_credential():
    env = {
        "OS_AUTH_TYPE": "v3applicationcredential",
        "OS_AUTH_URL": "https://keystone.example.com/v3",
        "OS_APPLICATION_CREDENTIAL_ID": "cred-id",
        "OS_APPLICATION_CREDENTIAL_SECRET": "cred-secret",
        "OS_REGION_NAME": "RegionOne",
        "OS_INTERFACE": "internalURL",
    }
    [candidate] = from_environment(env, name="appcred").candidates
    assert candidate.profile.auth.method == "application_credential"
    assert candidate.profile.auth.application_credential_id == "cred-id"
    assert candidate.profile.settings.interface == "internal"
    assert candidate.secrets == {"application_credential_secret": "cred-secret"}


def test_os_environment_problems(clouds_file):
    with pytest.raises(ProfileError, match="neither OS_CLOUD nor OS_AUTH_URL"):
        from_environment({})
    report = from_environment({"OS_AUTH_URL": "https://k/v3", "OS_USERNAME": "u", "OS_PASSWORD": "p"})
    assert report.candidates == []
    assert "glance.project_name" in report.problems[0]
    # OS_CLOUD reads that cloud from clouds.yaml, as the OpenStack clients do.
    report = from_environment({"OS_CLOUD": "devstack", "OS_CLIENT_CONFIG_FILE": str(clouds_file)})
    assert [c.profile.name for c in report.candidates] == ["devstack"]


YC_KEY = (
    "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <ajekey>\n"
    "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
)


@pytest.fixture
def yc_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "current": "default",
                "profiles": {
                    "default": {
                        "token": "y0_AgAAAAoauth-token",
                        "cloud-id": "b1gcloud",
                        "folder-id": "b1gfolder",
                        "compute-default-zone": "ru-central1-a",
                    },
                    "robot": {
                        "service-account-key": {
                            "id": "ajekey",
                            "service_account_id": "ajesa",
                            "created_at": "2024-01-01T00:00:00Z",
                            "key_algorithm": "RSA_2048",
                            "public_key": "-----BEGIN PUBLIC KEY-----\n...",
                            "private_key": YC_KEY,
                        },
                        "folder-id": "b1gfolder2",
                        "endpoint": "api.cloud-preprod.yandex.net:443",
                    },
                    "sso": {"federation-id": "bpf123", "folder-id": "f"},
                    "nofolder": {"token": "y0_x"},
                },
            }
        )
    )
    return path


def test_yandex_cli_profiles(yc_config):
    report = from_yandex_cli(yc_config)
    found = by_name(report)
    assert sorted(found) == ["yandex-default", "yandex-robot"]

    default = found["yandex-default"]
    assert default.profile.settings.folder_id == "b1gfolder"
    assert default.profile.auth.method == "oauth"
    assert default.profile.settings.compute_endpoint == "https://compute.api.cloud.yandex.net"
    assert default.secrets == {"oauth_token": "y0_AgAAAAoauth-token"}

    robot = found["yandex-robot"]
    assert robot.profile.auth.method == "service_account_key"
    assert (robot.profile.auth.service_account_id, robot.profile.auth.key_id) == ("ajesa", "ajekey")
    assert robot.secrets["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert robot.profile.settings.compute_endpoint == "https://compute.api.cloud-preprod.yandex.net"
    assert robot.profile.settings.operation_endpoint == "https://operation.api.cloud-preprod.yandex.net"
    assert robot.profile.settings.iam_endpoint == "https://iam.api.cloud-preprod.yandex.net"

    problems = "\n".join(report.problems)
    assert "yc profile 'sso': federated (SSO) yc profiles are not supported" in problems
    assert "yc profile 'nofolder': yandex.folder_id: required" in problems

    only = from_yandex_cli(yc_config, profile="default", name="yc")
    assert [c.profile.name for c in only.candidates] == ["yc"]
    with pytest.raises(ProfileError, match="no yc profile named 'x'"):
        from_yandex_cli(yc_config, profile="x")
    with pytest.raises(ProfileError, match="no Yandex CLI config here"):
        from_yandex_cli(yc_config.parent / "missing.yaml")


def test_import_saves_profiles_and_puts_secrets_only_in_the_keyring(store, memory_keyring, clouds_file, yc_config):
    for candidate in from_clouds_yaml(clouds_file).candidates + from_yandex_cli(yc_config).candidates:
        candidate.save(store)
    assert store.names() == ["app-cred", "devstack", "from-secure", "yandex-default", "yandex-robot"]
    assert memory_keyring.entries[("workbench", "devstack:password")] == "devstack-password"
    assert memory_keyring.entries[("workbench", "app-cred:application_credential_secret")] == "app-cred-secret"
    assert memory_keyring.entries[("workbench", "yandex-default:oauth_token")] == "y0_AgAAAAoauth-token"
    assert memory_keyring.entries[("workbench", "yandex-robot:private_key")].startswith("-----BEGIN")
    for path in store.directory.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for value in ("devstack-password", "app-cred-secret", "y0_AgAAAAoauth-token", "MIIE"):
                assert value not in text, path
    # Importing again is refused unless asked to replace.
    again = from_clouds_yaml(clouds_file, cloud="devstack").candidates[0]
    with pytest.raises(Exception, match="already exists"):
        again.save(store)
    again.save(store, replace=True)


def test_import_without_a_secure_keyring_writes_nothing(store, fail_keyring, clouds_file):
    candidate = from_clouds_yaml(clouds_file, cloud="devstack").candidates[0]
    with pytest.raises(NoSecureKeyring, match="WORKBENCH_SECRET_DEVSTACK_PASSWORD") as info:
        candidate.save(store)
    assert "devstack-password" not in str(info.value)
    assert store.names() == []


def test_simulator_demo_profiles_need_no_keyring(sim_context, secrets, fail_keyring):
    from workbench.sim.app import endpoints_document

    sim_endpoints = endpoints_document("http://127.0.0.1:8765", sim_context)  # what `workbench sim` prints
    candidates = from_simulator(sim_endpoints)
    assert [c.profile.name for c in candidates] == [
        "demo-kusto",
        "demo-glance",
        "demo-ims",
        "demo-batch",
        "demo-yandex",
    ]
    for candidate in candidates:
        profile = candidate.use_for_session(secrets)
        assert profile.warnings == []  # loopback http is fine
        for secret in profile.secret_fields:
            assert secrets.require(profile.name, secret)
    kusto = candidates[0].profile
    assert kusto.settings.arm_endpoint == sim_endpoints["kusto"]
    assert kusto.auth.authority_host == sim_endpoints["entra"]


def test_profile_names_from_labels():
    assert profile_name_from("My Cloud (prod)") == "my-cloud-prod"
    assert profile_name_from("default", "yandex-") == "yandex-default"
    assert profile_name_from("***") == "imported"
    assert len(profile_name_from("x" * 100)) == 63
