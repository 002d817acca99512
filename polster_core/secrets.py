"""Keep secrets out of what Polster shows: errors, warnings, logs and Dagster metadata.

``redact(text, secrets)`` replaces every secret value (and the parts of it that leak on their
own: the key of a connection string, the signature of a SAS token, the password of a URL, their
URL- and JSON-encoded forms) with ``***``, and masks well-known credential parameters and URL
passwords even when their value is unknown. :class:`Redactor` does the same for a fixed set of
secrets, prepared once; :func:`known_secrets` finds every secret value a project has.
"""

from __future__ import annotations

import json
import os
import re
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, urlsplit

from . import LAYERS
from .plugin_system.specs import AssetContext
from .project.envfile import file_values

MASK = "***"

# Parameters whose value is a credential wherever they appear (URLs, connection strings).
_CREDENTIAL_KEYS = (
    "sig",
    "accountkey",
    "sharedaccesssignature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "aws_secret_access_key",
    "aws_session_token",
    "password",
)
_CREDENTIAL_PARAM = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in _CREDENTIAL_KEYS) + r")=([^&;\s\"'<>]+)", re.I
)
# A parameter of a URL's query whose name says it holds a credential (?key=, &api_key=,
# ?access_token=, &client_secret=, ?sig=, ...), whatever the URL: an API's token is often
# passed there, or added by a redirect.
_QUERY_CREDENTIAL_NAME = (
    r"[\w.~-]*?(?:key|token|secret|passw(?:or)?d|pwd|sig|signature|auth|credentials?|session)"
)
# The value ends where the parameter ends, or before the punctuation of the sentence around it.
_QUERY_CREDENTIAL = re.compile(
    r"([?&](" + _QUERY_CREDENTIAL_NAME + r")=)([^&#\s\"'<>]*[^&#\s\"'<>:;,.)\]])", re.I
)
# The password of a URL (scheme://user:password@host), whatever the URL. It runs to the last
# "@" of the URL's authority (as urllib splits it), so that a password with a raw "@" in it
# (postgresql://user:p@ss@host) is masked whole, not up to its first "@".
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/?#\s:@\"'<>]*:)([^/?#\s\"'<>]+)@", re.I)
# Where a Dagster home keeps the names (never the values) of the installed plugins' secret settings.
SETTINGS_CACHE = "polster-secret-settings.json"
# Shortest value treated as a secret on its own: shorter ones would mask ordinary words.
MIN_SECRET_LENGTH = 6


def secret_fragments(values: Iterable[str]) -> list[str]:
    """Every string that must not be shown, longest first (so a whole value wins over a part)."""
    found: set[str] = set()
    for value in values:
        value = (value or "").strip()
        if len(value) < MIN_SECRET_LENGTH:
            continue
        found.add(value)
        for part in re.split(r"[;&?]", value):
            key, sep, inner = part.partition("=")
            if sep and len(inner) >= MIN_SECRET_LENGTH and _is_credential_name(key):
                found.add(inner)
        password = _url_password(value)
        if password and len(password) >= MIN_SECRET_LENGTH:
            found.update({password, unquote(password)})
        if password and "@" in password:
            # Written raw, the first "@" ends the password for libpq and others, which then
            # show the rest as the host ("could not translate host name "rest@host""): that
            # host, and each part long enough to be masked on its own.
            netloc = urlsplit(value).netloc
            host = re.sub(r":\d*$", "", netloc.rpartition("@")[2])
            found.add(f"{password.split('@', 1)[1]}@{host}")
            found.update(p for p in password.split("@") if len(p) >= MIN_SECRET_LENGTH)
    for fragment in list(found):
        found.add(quote(fragment))
        found.add(quote(fragment, safe=""))
        found.add(quote_plus(fragment))
        found.add(json.dumps(fragment)[1:-1])  # as it appears inside JSON
    return sorted(found, key=len, reverse=True)


def _is_credential_name(name: str) -> bool:
    name = name.strip().lower()
    return name in _CREDENTIAL_KEYS or bool(re.fullmatch(_QUERY_CREDENTIAL_NAME, name))


def mask_url_password(text: str) -> str:
    """``text`` with the password of every URL in it as ``***`` (the whole of it, also when it
    holds a raw ``@``)."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        return urlsplit(value).password
    except ValueError:
        return None


class Redactor:
    """Masks a fixed set of secrets, prepared once: call it on text, or ask :meth:`search`
    whether a text needs it. False when there is no secret to mask (then nobody needs to call
    it: credential parameters alone are masked by :func:`redact`)."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.fragments = tuple(secret_fragments(secrets))

    def __bool__(self) -> bool:
        return bool(self.fragments)

    def search(self, text: str) -> bool:
        """Whether ``text`` holds anything to mask (plain substring tests first: fast)."""
        if any(fragment in text for fragment in self.fragments):
            return True
        if "://" in text and _URL_PASSWORD.search(text):
            return True
        if "=" in text and _QUERY_CREDENTIAL.search(text):
            return True
        lowered = text.lower()
        return any(f"{key}=" in lowered for key in _CREDENTIAL_KEYS) and bool(
            _CREDENTIAL_PARAM.search(text)
        )

    def __call__(self, text: str) -> str:
        # Longest first, one after the other: a part of one secret never outlives another.
        for fragment in self.fragments:
            if fragment in text:
                text = text.replace(fragment, MASK)
        text = _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
        if "=" in text:
            text = _QUERY_CREDENTIAL.sub(lambda m: f"{m.group(1)}{MASK}", text)
        return mask_url_password(text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by ``***``."""
    return Redactor(secrets)(text)


def mask(text: str, root: Path | str | None = None) -> str:
    """``text`` as any output of Polster must be: the value of every secret setting in this
    process's environment (and in ``root/.env``) masked, and credentials in any URL or
    connection string. The one-line errors of every entry point go through it
    (:func:`polster_core.errors.user_message`). Never fails: if the secrets cannot be found
    (a plugin that does not load, an unreadable ``.env``), the credentials are still masked."""
    return process_redactor(root)(text)


def process_redactor(root: Path | str | None = None) -> Redactor:
    """A :class:`Redactor` of the secrets :func:`mask` masks (see there); never fails."""
    home = os.environ.get("DAGSTER_HOME") or (Path(root) / ".dagster" if root else None)
    cache = Path(home) / SETTINGS_CACHE if home and os.path.isdir(home) else None
    try:
        return Redactor(known_secrets(root, cache=cache))
    except Exception:
        try:
            return Redactor(known_secrets(None, cache=cache))
        except Exception:
            return Redactor()


def known_secrets(
    root: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    cache: Path | str | None = None,
) -> list[str]:
    """The value of every secret setting Polster knows, from ``env`` (default ``os.environ``)
    and from ``root/.env`` when given.

    Secret settings are those marked ``secret`` by an installed plugin: every storage backend's,
    every ``polster_env_vars`` hook's and every asset template's (``BRONZE_ORDERS_API_TOKEN``
    for any bronze asset of a template that declares ``{PREFIX}_API_TOKEN``). Finding them loads
    every plugin; with ``cache`` (a file) their names are kept there for the next process, until
    a package is installed or removed, or a plugin's module changes.
    """
    names, patterns = _secret_setting_names(Path(cache) if cache else None)
    sources: list[Mapping[str, str]] = [os.environ if env is None else env]
    if root is not None:
        sources.append(file_values(Path(root), sources[0]))
    found = []
    for source in sources:
        for name, value in source.items():
            if not value or value in found:
                continue
            if name in names or any(
                name.startswith(head) and name.endswith(tail) and len(name) > len(head + tail)
                for head, tail in patterns
            ):
                found.append(value)
    return found


_Names = tuple[frozenset[str], tuple[tuple[str, str], ...]]
_NAMES: _Names | None = None


def _secret_setting_names(cache: Path | None = None) -> _Names:
    """Names of secret settings, and (head, tail) patterns of asset templates' secret settings."""
    global _NAMES
    if _NAMES is None and cache is not None:
        _NAMES = _read_cache(cache)
    if _NAMES is None:
        _NAMES, files = _collect_names()
        if cache is not None:
            _write_cache(cache, _NAMES, files)
    return _NAMES


def _collect_names() -> tuple[_Names, list[str]]:
    from .plugin_system.manager import get_plugins
    from .project.scaffold import ProjectContext

    plugins = get_plugins()
    names = {s.name for b in plugins.storage_backends().values() for s in b.settings if s.secret}
    names.update(s.name for e in plugins.executors().values() for s in e.settings if s.secret)
    names.add("DAGSTER_POSTGRES_URL")  # the shared history's URL, with its password
    try:
        for result in plugins.pm.hook.polster_env_vars(context=ProjectContext("project")):
            names.update(s.name for s in result or () if s.secret)
    except Exception:  # a plugin's hook failed: its settings are unknown, the rest still count
        pass
    patterns = set()
    for template in plugins.asset_templates().values():
        for layer in set(template.layers) & set(LAYERS):
            probe = AssetContext(project_name="project", layer=layer, name="polster_probe")
            try:
                settings = template.settings(probe) if template.settings else ()
            except Exception:
                continue
            for setting in settings:
                if not setting.secret:
                    continue
                if setting.name.startswith(probe.env_prefix):
                    patterns.add((f"{layer.upper()}_", setting.name[len(probe.env_prefix) :]))
                else:
                    names.add(setting.name)
    files = [getattr(m, "__file__", None) for m in plugins.pm.get_plugins()]
    return (frozenset(names), tuple(sorted(patterns))), [f for f in files if f]


def _stamps(files: Iterable[str]) -> dict[str, int]:
    """What the names depend on: the installed packages (their folders change when one is
    added or removed) and the plugins' modules; a missing one stamps -1."""

    paths = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")} | set(files)
    stamps = {}
    for path in sorted(paths):
        try:
            stamps[path] = os.stat(path).st_mtime_ns
        except OSError:
            stamps[path] = -1
    stamps[
        "POLSTER_DISABLE_PLUGIN_AUTOLOAD=" + os.environ.get("POLSTER_DISABLE_PLUGIN_AUTOLOAD", "")
    ] = 0
    return stamps


def _read_cache(cache: Path) -> _Names | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["stamps"] != _stamps(data["files"]):
            return None
        return frozenset(data["names"]), tuple((h, t) for h, t in data["patterns"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(cache: Path, names: _Names, files: list[str]) -> None:
    data = {
        "names": sorted(names[0]),
        "patterns": [list(p) for p in names[1]],
        "files": files,
        "stamps": _stamps(files),
    }
    temporary = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, cache)
    except OSError:  # a read-only home: find them again next time
        temporary.unlink(missing_ok=True)
