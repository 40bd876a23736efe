"""`ProfileFormScreen`: add or edit a profile, its secrets, test it, remove it.

The form is built from the profile model itself (each provider's settings and
auth-method classes), so every field the model knows is here, required ones
marked, choices as selects, and the model's own validation names the field
that is wrong. Secrets are typed into password inputs and go straight to the
OS keyring through the workspace's ``SecretStore``; they are never written to
the profile file and never shown again.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from workbench.tui.panes.profiles import PROVIDER_TITLES, ProfileStatus

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.profiles import Profile

__all__ = ["FormField", "ProfileFormResult", "ProfileFormScreen", "auth_methods", "form_fields"]


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of the form, described from the model."""

    #: Dotted key relative to the provider's table ("cluster", "auth.client_id").
    key: str
    label: str
    required: bool = False
    default: str = ""
    choices: tuple[str, ...] = ()
    secret: bool = False

    @property
    def widget_id(self) -> str:
        return "field-" + self.key.replace(".", "--").replace("_", "-")


@dataclass(frozen=True, slots=True)
class ProfileFormResult:
    """How the form closed: ``action`` is "saved" or "removed"."""

    action: Literal["saved", "removed"]
    name: str
    status: ProfileStatus | None = None


def _settings_class(provider: str) -> Any:
    from workbench.profiles import BatchSettings, GlanceSettings, ImsSettings, KustoSettings, YandexSettings

    return {"kusto": KustoSettings, "glance": GlanceSettings, "ims": ImsSettings, "batch": BatchSettings,
            "yandex": YandexSettings}[provider]


def _literal_choices(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is Literal:
        return tuple(str(choice) for choice in typing.get_args(annotation))
    for member in typing.get_args(annotation):  # Optional[Literal[...]]
        if typing.get_origin(member) is Literal:
            return tuple(str(choice) for choice in typing.get_args(member))
    return ()


def _model_fields(model: Any, prefix: str = "", skip: tuple[str, ...] = ()) -> list[FormField]:
    found = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        default = info.default
        text_default = "" if default is None or info.is_required() else str(default)
        found.append(FormField(
            key=prefix + name,
            label=name.replace("_", " "),
            required=info.is_required(),
            default=text_default,
            choices=_literal_choices(info.annotation),
        ))
    return found


def auth_methods(provider: str) -> dict[str, Any]:
    """The auth methods of ``provider``, in the model's order: method -> its model class."""
    annotation = _settings_class(provider).model_fields["auth"].annotation
    methods = {}
    for member in typing.get_args(annotation):
        methods[member.model_fields["method"].default] = member
    return methods


def form_fields(provider: str, method: str) -> list[FormField]:
    """The settings, auth and secret fields of a provider with one auth method."""
    from workbench.profiles import SECRET_FIELDS

    fields = _model_fields(_settings_class(provider), skip=("provider", "auth"))
    fields += _model_fields(auth_methods(provider)[method], prefix="auth.", skip=("method",))
    for secret in SECRET_FIELDS[(provider, method)]:
        fields.append(FormField(key=f"secret.{secret}", label=secret.replace("_", " "), secret=True))
    return fields


def _without(text: str, secrets: typing.Iterable[str]) -> str:
    """``text`` with every typed secret masked (an error must never show one)."""
    for secret in secrets:
        if len(secret) >= 4:  # shorter ones would mask half the words, and are no secret anyway
            text = text.replace(secret, "***")
    return text


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = str(value)
    return flat


class ProfileFormScreen(Screen[ProfileFormResult | None]):
    """Add a profile (``profile=None``) or edit one."""

    DEFAULT_CSS = """
    ProfileFormScreen {
        & .pane-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
        & #form-body { height: 1fr; padding: 0 2; }
        & .field-label { padding: 1 0 0 0; color: $text-muted; }
        & #form-body Input, & #form-body Select { background: $boost; }
        & #form-body Input.-invalid, & #form-body Select.-invalid {
            background: $error-muted;
            color: $text-error;
        }
        & #form-errors {
            height: auto;
            max-height: 8;
            padding: 0 2;
            color: $text-error;
            background: $error-muted;
        }
        & #form-test-result { height: auto; padding: 0 2; }
        & #form-test-result.-ok { color: $text-success; background: $success-muted; }
        & #form-test-result.-failed { color: $text-error; background: $error-muted; }
        & .dialog-buttons { height: auto; padding: 1 0 0 0; }
        & .dialog-buttons Button { margin: 0 1 0 0; }
        & #form-buttons { padding: 0 2; }
        & #provider-fields { height: auto; }
        & #field-tls-verify { margin: 1 0 0 0; }
    }
    """

    COMMAND_SCOPE: ClassVar[str] = "profile-form"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+r", "test", "Test"),
        Binding("escape", "close", "Cancel"),
    ]

    def __init__(self, workspace: Workspace, profile: Profile | None = None, *, provider: str = "kusto") -> None:
        super().__init__()
        self.workspace = workspace
        self.profile = profile
        self.provider = profile.provider if profile is not None else provider
        self.method = profile.auth_method if profile is not None else next(iter(auth_methods(self.provider)))
        #: Values typed so far, by field key: kept when the provider or method changes.
        self._typed_values: dict[str, str] = {}
        if profile is not None:
            document = profile.to_toml_dict()
            self._typed_values.update(_flatten(document.get(profile.provider, {})))
            self._typed_values["description"] = profile.description
        self.test_status: ProfileStatus | None = None

    @property
    def editing(self) -> bool:
        return self.profile is not None

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        title = f"Edit profile {self.profile.name}" if self.profile is not None else "Add a profile"
        yield Static(Text(title), classes="pane-title", id="form-title")
        with VerticalScroll(id="form-body"):
            yield Label("Name *", classes="field-label")
            yield Input(self.profile.name if self.profile else "", id="field-name", disabled=self.editing,
                        placeholder="lower-case letters, digits, '-' and '_'", compact=True)
            if not self.editing:
                yield Label("Cloud *", classes="field-label")
                yield Select([(title, key) for key, title in PROVIDER_TITLES.items()], value=self.provider,
                             allow_blank=False, id="field-provider", compact=True)
            yield Label("Description", classes="field-label")
            yield Input(self._typed_values.get("description", ""), id="field-description", compact=True)
            yield Label("Auth method *", classes="field-label")
            yield Select(self._method_options(), value=self.method, allow_blank=False, id="field-auth-method",
                         compact=True)
            yield Vertical(*self._field_widgets(), id="provider-fields")
            verify = self.profile.tls.verify if self.profile is not None else True
            yield Checkbox("Verify TLS certificates", verify, id="field-tls-verify")
        yield Static("", id="form-errors")
        yield Static("", id="form-test-result")
        with Horizontal(classes="dialog-buttons", id="form-buttons"):
            yield Button("Save (ctrl+s)", variant="primary", id="form-save")
            yield Button("Test (ctrl+r)", id="form-test")
            if self.editing:
                yield Button("Remove…", variant="error", id="form-remove")
            yield Button("Cancel (esc)", id="form-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#form-errors", Static).display = False
        self.query_one("#form-test-result", Static).display = False
        first = "#field-description" if self.editing else "#field-name"
        self.query_one(first, Input).focus()

    def _method_options(self) -> list[tuple[str, str]]:
        return [(method.replace("_", " "), method) for method in auth_methods(self.provider)]

    def _field_widgets(self) -> list[Widget]:
        widgets: list[Widget] = []
        for field in form_fields(self.provider, self.method):
            label = field.label + (" *" if field.required else "")
            if field.secret:
                label += " (secret: kept in the OS keyring)"
            widgets.append(Label(label, classes="field-label"))
            value = self._typed_values.get(field.key, "")
            if field.choices:
                widgets.append(Select([(choice, choice) for choice in field.choices],
                                      value=value or field.default or field.choices[0], allow_blank=False,
                                      id=field.widget_id, compact=True))
            else:
                widgets.append(Input(value if not field.secret else "", password=field.secret,
                                     placeholder=self._placeholder(field), id=field.widget_id, compact=True))
        return widgets

    def _placeholder(self, field: FormField) -> str:
        if field.secret:
            if self.profile is not None:
                source = self.workspace.secrets.status(self.profile.name, field.key.removeprefix("secret."))
                if source.value in ("keyring", "env", "session"):
                    return f"set ({source.value}); type a new value to replace it"
            return "typed here, stored in the OS keyring"
        if field.default:
            return f"default: {field.default}"
        return "required" if field.required else "optional"

    # -- reading the form ------------------------------------------------------
    def _remember_values(self) -> None:
        for field in form_fields(self.provider, self.method):
            if field.secret:
                continue
            for widget in self.query(f"#{field.widget_id}"):
                value = widget.value
                self._typed_values[field.key] = "" if value is Select.NULL else str(value)

    async def _rebuild_fields(self) -> None:
        container = self.query_one("#provider-fields", Vertical)
        await container.remove_children()
        await container.mount_all(self._field_widgets())

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.value is Select.NULL:
            return
        if event.select.id == "field-provider" and event.value != self.provider:
            self._remember_values()
            self.provider = str(event.value)
            self.method = next(iter(auth_methods(self.provider)))
            methods = self.query_one("#field-auth-method", Select)
            methods.set_options(self._method_options())
            methods.value = self.method
            await self._rebuild_fields()
        elif event.select.id == "field-auth-method" and event.value != self.method:
            self._remember_values()
            self.method = str(event.value)
            await self._rebuild_fields()

    def _profile_name(self) -> str:
        if self.profile is not None:
            return self.profile.name
        return self.query_one("#field-name", Input).value.strip()

    def _assignments(self) -> dict[str, Any]:
        """Dotted keys for ``Profile.build`` / ``with_settings`` (None removes a key)."""
        assignments: dict[str, Any] = {"auth.method": self.method}
        for field in form_fields(self.provider, self.method):
            if field.secret:
                continue
            widget = self.query_one(f"#{field.widget_id}")
            value = widget.value
            text = "" if value is Select.NULL else str(value).strip()
            assignments[field.key] = text or None
        description = self.query_one("#field-description", Input).value.strip()
        assignments["description"] = description or None
        assignments["tls.verify"] = self.query_one("#field-tls-verify", Checkbox).value
        return assignments

    def _typed_secrets(self) -> dict[str, str]:
        typed = {}
        for field in form_fields(self.provider, self.method):
            if field.secret:
                value = self.query_one(f"#{field.widget_id}", Input).value
                if value:
                    typed[field.key.removeprefix("secret.")] = value
        return typed

    def build_profile(self) -> Profile:
        """The profile the form describes (``ProfileError`` naming each bad field)."""
        from workbench.profiles import FieldProblem, Profile, ProfileError, check_profile_name

        name = self._profile_name()
        try:
            check_profile_name(name)
        except ValueError as exc:
            raise ProfileError(problems=[FieldProblem("name", str(exc))]) from None
        assignments = self._assignments()
        if self.profile is not None:
            return self.profile.with_settings(assignments)
        return Profile.build(name, self.provider, {k: v for k, v in assignments.items() if v is not None})

    # -- feedback ----------------------------------------------------------------
    def _show_errors(self, problems: list[tuple[str, str]]) -> None:
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")
        box = self.query_one("#form-errors", Static)
        box.display = bool(problems)
        lines = []
        for field, message in problems:
            lines.append(f"{field}: {message}" if field else message)
            widget_id = self._widget_for(field)
            if widget_id:
                for widget in self.query(f"#{widget_id}"):
                    widget.add_class("-invalid")
        box.update(Text("\n".join(lines)))

    def _widget_for(self, field: str) -> str | None:
        if field == "name":
            return "field-name"
        if field == "description":
            return "field-description"
        key = field.split(".", 1)[1] if field.startswith(f"{self.provider}.") else field
        for candidate in form_fields(self.provider, self.method):
            if candidate.key == key:
                return candidate.widget_id
        return None

    def _show_test(self, status: ProfileStatus, message: str) -> None:
        self.test_status = status
        box = self.query_one("#form-test-result", Static)
        box.display = True
        mark = {ProfileStatus.OK: "✓ ok", ProfileStatus.AUTH_FAILED: "✗ auth failed"}.get(status, "! error")
        box.set_class(status is ProfileStatus.OK, "-ok")
        box.set_class(status is not ProfileStatus.OK, "-failed")
        box.update(Text(f"{mark}: {message}" if message else mark))

    # -- actions -------------------------------------------------------------------
    def _problems_of(self, error: Exception) -> list[tuple[str, str]]:
        problems = getattr(error, "problems", None)
        if problems:
            return [(problem.field, problem.message) for problem in problems]
        return [("", str(error))]

    def action_save(self) -> None:
        """Check, save the file, then store the typed secrets (as ``workbench profile add`` does).

        The order matters: the name must be free (or the file unchanged since it
        was loaded) and the keyring usable before anything is written, and the
        secrets go to the keyring only once the file is saved, so a refused save
        never overwrites another profile's secrets.
        """
        from workbench.core.errors import WorkbenchError
        from workbench.profiles import FieldProblem, ProfileConflict

        store, secrets = self.workspace.profiles, self.workspace.secrets
        typed = self._typed_secrets()
        try:
            profile = self.build_profile()
            if self.profile is None and store.exists(profile.name):
                raise ProfileConflict(
                    path=store.path_for(profile.name), profile=profile.name,
                    problems=[FieldProblem("name", "a profile of this name already exists: choose another name, "
                                                   "or edit that profile (e on it in the profiles tree)")],
                )
            for field in typed:
                secrets.keyring(profile.name, field)  # no secure keyring: fail before anything is written
            saved = store.save(profile)
        except WorkbenchError as exc:
            self._show_errors(self._problems_of(exc))
            return
        self._now_editing(saved)
        try:
            for field, value in typed.items():
                secrets.set(saved.name, field, value)
        except WorkbenchError as exc:
            self._show_errors([("", f"the profile was saved, but a secret was not stored: {exc}. "
                                    f"Save again to retry, or later: workbench profile edit {saved.name} "
                                    "--secret FIELD")])
            return
        self._show_errors([])
        self.dismiss(ProfileFormResult("saved", saved.name, self.test_status))

    def _now_editing(self, saved: Profile) -> None:
        """The profile is stored: from now on the form edits it (a retry must not conflict)."""
        self.profile = saved
        self.query_one("#field-name", Input).disabled = True
        for select in self.query("#field-provider"):
            select.disabled = True

    def action_test(self) -> None:
        self.run_worker(self._test(), group="profile-test", exclusive=True, exit_on_error=False)

    async def _test(self) -> None:
        from workbench.connect import open_driver
        from workbench.core.errors import WorkbenchError
        from workbench.profiles import SecretError, SecretStore
        from workbench.tui.panes.profiles import probe_driver

        try:
            profile = self.build_profile()
        except WorkbenchError as exc:
            self._show_errors(self._problems_of(exc))
            return
        self._show_errors([])
        # The typed secrets are tried without being stored: only Save stores them.
        trial = SecretStore(environ={})
        typed = self._typed_secrets()
        for field in profile.secret_fields:
            value = typed.get(field)
            if value is None:
                try:
                    value = self.workspace.secrets.get(profile.name, field)
                except SecretError:
                    value = None
            if value:
                trial.remember(profile.name, field, value)
        self._show_test(ProfileStatus.UNTESTED, "testing…")
        try:
            # A key that is not base64, a private key that does not parse, a token
            # with spaces: open_driver says so with a plain ValueError or OSError.
            driver = open_driver(profile, trial, transport=self.workspace.transport,
                                 request_log=self.workspace.request_log)
        except (WorkbenchError, ValueError, OSError) as exc:
            self._show_test(ProfileStatus.ERROR, _without(str(exc), typed.values()))
            return
        try:
            status, message = await probe_driver(driver)
        finally:
            await driver.aclose()
        self._show_test(status, _without(message, typed.values()))

    def action_remove(self) -> None:
        if self.profile is None:
            return
        from workbench.tui.screens.confirm import ConfirmScreen

        name = self.profile.name

        def removed(confirmed: bool | None) -> None:
            if not confirmed:
                return
            from workbench.core.errors import WorkbenchError

            try:
                self.workspace.profiles.remove(name)
            except WorkbenchError as exc:
                self._show_errors(self._problems_of(exc))
                return
            self.dismiss(ProfileFormResult("removed", name))

        self.app.push_screen(
            ConfirmScreen(f"Remove profile '{name}'?",
                          "Its file and every secret of it in the OS keyring are deleted.",
                          confirm_label="Remove"),
            removed,
        )

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {"form-save": self.action_save, "form-test": self.action_test, "form-remove": self.action_remove,
                   "form-cancel": self.action_close}
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
