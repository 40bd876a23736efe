"""Saved credential profiles: the model, the TOML store and the secrets that go with them.

A *profile* names one cloud account: its provider, endpoints and ids, auth method,
TLS options and timeouts. It is stored as ``<name>.toml`` in the user's config
directory (``WORKBENCH_HOME`` overrides it); its secrets live only in the OS keyring
(or an environment variable, or this session's memory).

The faces (app, command line, notebooks) use it like this::

    from workbench.profiles import ProfileStore, Profile, SecretStore

    secrets = SecretStore()                       # one per process: it holds session secrets
    store = ProfileStore(secrets=secrets)         # ~/.config/workbench/profiles, or $WORKBENCH_HOME/profiles

    profile = Profile.build("prod", "kusto", {
        "subscription_id": "12345678-1234-1234-1234-123456789098",
        "resource_group": "kustorptest",
        "cluster": "kustoCluster",
        "auth.method": "client_secret",
        "auth.tenant_id": "contoso.onmicrosoft.com",
        "auth.client_id": "a1b2c3d4-0000-4000-8000-00000000c11e",
    })
    store.save(profile)                           # ProfileConflict if 'prod' exists already
    secrets.set("prod", "client_secret", value)   # NoSecureKeyring if there is no secure keyring

    listing = store.list()                        # .profiles, and .errors for files that are broken
    profile = store.load("prod")                  # ProfileNotFound / ProfileError naming file, profile, field
    for warning in profile.warnings:              # show these every time (e.g. TLS verification off)
        ...
    secret = secrets.require("prod", "client_secret", prompt=ask)   # env, session, keyring, then ask
    store.save(profile.with_settings({"cluster": "other"}))        # checked against the loaded revision
    store.rename("prod", "production")            # moves the secrets too
    store.remove("production")                    # removes its secrets too
    store.import_file("profiles/kusto.toml", name="kusto-example")

Importers (``workbench.profiles.importers``): ``from_clouds_yaml``, ``from_environment``
(``OS_*``), ``from_yandex_cli`` and ``from_simulator`` return candidates to ``save`` into
a store (secrets into the keyring) or ``use_for_session``.

Every error here is a ``ProfileError`` (``ProfileNotFound``, ``ProfileConflict``) or a
``SecretError`` (``NoSecureKeyring``, ``MissingSecret``, ``KeyringFailure``); none of
their messages ever contains a secret value.
"""

from workbench.profiles.model import (
    NAME_RULE,
    PROVIDERS,
    SECRET_FIELDS,
    AzureCliAuth,
    AzureClientSecretAuth,
    BatchClientSecretAuth,
    BatchSettings,
    BatchSharedKeyAuth,
    FieldProblem,
    GlanceSettings,
    ImsSettings,
    KeystoneApplicationCredentialAuth,
    KeystonePasswordAuth,
    KustoSettings,
    Profile,
    ProfileError,
    StaticTokenAuth,
    Timeouts,
    TlsOptions,
    YandexOAuthAuth,
    YandexServiceAccountKeyAuth,
    YandexSettings,
    check_profile_name,
    provider_secret_fields,
)
from workbench.profiles.secrets import (
    SERVICE,
    KeyringFailure,
    MissingSecret,
    NoSecureKeyring,
    SecretError,
    SecretSource,
    SecretStore,
    check_backend,
    env_var_name,
    keyring_key,
)
from workbench.profiles.store import (
    HOME_ENV,
    ProfileConflict,
    ProfileListing,
    ProfileNotFound,
    ProfileStore,
    default_home,
)

__all__ = [
    "HOME_ENV",
    "NAME_RULE",
    "PROVIDERS",
    "SECRET_FIELDS",
    "SERVICE",
    "AzureCliAuth",
    "AzureClientSecretAuth",
    "BatchClientSecretAuth",
    "BatchSettings",
    "BatchSharedKeyAuth",
    "FieldProblem",
    "GlanceSettings",
    "ImsSettings",
    "KeyringFailure",
    "KeystoneApplicationCredentialAuth",
    "KeystonePasswordAuth",
    "KustoSettings",
    "MissingSecret",
    "NoSecureKeyring",
    "Profile",
    "ProfileConflict",
    "ProfileError",
    "ProfileListing",
    "ProfileNotFound",
    "ProfileStore",
    "SecretError",
    "SecretSource",
    "SecretStore",
    "StaticTokenAuth",
    "Timeouts",
    "TlsOptions",
    "YandexOAuthAuth",
    "YandexServiceAccountKeyAuth",
    "YandexSettings",
    "check_backend",
    "check_profile_name",
    "default_home",
    "env_var_name",
    "keyring_key",
    "provider_secret_fields",
]
