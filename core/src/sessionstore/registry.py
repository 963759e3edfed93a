"""Discovery of installed backends through the ``sessionstore.backends`` entry points.

Listing reads only distribution metadata: no backend is imported until a store
asks for it. A backend that fails to import or validate is reported with the
distribution that ships it and never affects listing or the other backends.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from typing import Literal

import importlib_metadata

from sessionstore.errors import BackendLoadError, BackendNotFoundError

ENTRY_POINT_GROUP = "sessionstore.backends"
ENV_DISABLE = "SESSIONSTORE_DISABLE_BACKENDS"
"""Comma-separated backend names to ignore without uninstalling them, in any case
(``S3`` disables ``s3``), as a URL's scheme names a backend in any case."""

FIRST_PARTY = ("memory", "file", "s3", "gcs", "azure")
"""Backends this project ships, each as the distribution ``sessionstore-<name>``."""


Status = Literal["installed", "disabled", "ok", "broken"]
UNKNOWN = "<unknown>"
"""The distribution name or version where its metadata does not say."""


@dataclasses.dataclass(frozen=True, repr=False)
class BackendInfo:
    """One installed backend, as its distribution declares it.

    ``status`` is ``installed`` (not imported) or ``disabled`` when listed
    without checking; a check imports it and says ``ok`` or ``broken``, with the
    reason in ``error``. ``distribution`` and ``version`` are read from the
    distribution's metadata when first asked for: parsing it (which imports the
    email parser) took a third of the start-up time of listing 50 backends, and
    creating a store needs neither.
    """

    # A dataclass, unlike the other value classes: listing backends is start-up
    # work, and importing attrs alone costs more than the rest of it.

    name: str
    value: str
    status: Status = "installed"
    error: str | None = None
    entry_point: importlib_metadata.EntryPoint | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    """The entry point the backend was found by (``None`` for one made by hand)."""

    @property
    def distribution(self) -> str:
        """The name of the distribution that declares the backend."""
        return self._metadata[0]

    @property
    def version(self) -> str:
        """The version of that distribution."""
        return self._metadata[1]

    @functools.cached_property
    def _metadata(self) -> tuple[str, str]:
        return _name_and_version(self.entry_point)

    def __repr__(self) -> str:
        return (
            f"BackendInfo(name={self.name!r}, distribution={self.distribution!r}, "
            f"version={self.version!r}, value={self.value!r}, status={self.status!r}, "
            f"error={self.error!r})"
        )


def disabled_backends(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Names listed in ``SESSIONSTORE_DISABLE_BACKENDS``, lower-cased: compared with
    a backend's name lower-cased (:func:`_is_disabled`)."""
    raw = (os.environ if environ is None else environ).get(ENV_DISABLE, "")
    return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())


def _is_disabled(name: str, disabled: frozenset[str]) -> bool:
    return name.lower() in disabled


def _entry_points() -> list[importlib_metadata.EntryPoint]:
    return sorted(importlib_metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _info(entry_point: importlib_metadata.EntryPoint, disabled: frozenset[str]) -> BackendInfo:
    return BackendInfo(
        name=entry_point.name,
        value=entry_point.value,
        status="disabled" if _is_disabled(entry_point.name, disabled) else "installed",
        entry_point=entry_point,
    )


def _name_and_version(entry_point: importlib_metadata.EntryPoint | None) -> tuple[str, str]:
    """Name and version of the distribution declaring ``entry_point``, from one
    parse of its metadata (``dist.name`` and ``dist.version`` parse it once each),
    or ``UNKNOWN`` for what a broken install lacks: it is listed, not fatal."""
    dist = entry_point.dist if entry_point is not None else None
    try:
        metadata = dist.metadata if dist is not None else None
    except FileNotFoundError:  # importlib_metadata.MetadataNotFound: no METADATA file
        metadata = None
    if metadata is None:
        return UNKNOWN, UNKNOWN
    return metadata.get("Name") or UNKNOWN, metadata.get("Version") or UNKNOWN


def available_backends(*, check: bool = False) -> list[BackendInfo]:
    """List installed backends by name, without importing any of them.

    With ``check=True`` each enabled backend is imported and validated, and
    its status says ``ok`` or ``broken`` (with the error); a broken one never
    stops the others from being listed.
    """
    disabled = disabled_backends()
    infos = [_info(ep, disabled) for ep in _entry_points()]
    if not check:
        return infos
    checked = []
    for info in infos:
        if info.status != "disabled":
            try:
                load_backend(info.name)
            except (BackendLoadError, BackendNotFoundError) as error:
                info = dataclasses.replace(info, status="broken", error=str(error))
            else:
                info = dataclasses.replace(info, status="ok")
        checked.append(info)
    return checked


def load_backend(name: str) -> tuple[BackendInfo, type]:
    """Import and validate the backend called ``name`` (in any case); return its info
    (with the name as the backend spells it) and class.

    Raises :class:`BackendNotFoundError` (with the install command) when no
    enabled backend has that name, and :class:`BackendLoadError` (naming the
    distribution) when its module fails to import or its hooks do not fit the
    contract, and :class:`TypeError` when ``name`` is not a string.
    """
    if not isinstance(name, str):
        # A name compared in any case: 5 failed as "'int' object has no attribute 'lower'".
        raise TypeError(
            f"backend must be a str (a backend's name, such as 'file'), got {type(name).__name__}"
        )
    disabled = disabled_backends()
    entry_points = _entry_points()
    # Names match in any case, as a URL's scheme does (MEMORY:// is memory://), unless
    # one is spelt exactly so.
    matches = [ep for ep in entry_points if ep.name == name] or [
        ep for ep in entry_points if ep.name.lower() == name.lower()
    ]
    if not matches:
        raise BackendNotFoundError(_not_found_message(name, disabled))
    info = _info(matches[0], disabled)
    name = info.name
    if info.status == "disabled":
        raise BackendNotFoundError(
            f"backend {name!r} (from {info.distribution}) is disabled by {ENV_DISABLE}="
            f"{os.environ.get(ENV_DISABLE, '')!r}; remove it from that variable to use it"
        )
    if len({ep.value for ep in matches}) > 1:
        providers = ", ".join(sorted(_info(ep, disabled).distribution for ep in matches))
        raise BackendLoadError(
            f"backend {name!r} is provided by several distributions ({providers}); "
            "uninstall all but one",
            backend=name,
            distribution=providers,
        )
    try:
        plugin = matches[0].load()
    except Exception as error:
        raise BackendLoadError(
            f"backend {name!r} from {info.distribution} {info.version} failed to import "
            f"({type(error).__name__}: {error}); upgrade or uninstall {info.distribution}, "
            f"or set {ENV_DISABLE}={name}",
            backend=name,
            distribution=info.distribution,
        ) from error
    if not isinstance(plugin, type):
        raise BackendLoadError(
            f"backend {name!r} from {info.distribution}: entry point {info.value!r} must name "
            f"a class, found {type(plugin).__name__}",
            backend=name,
            distribution=info.distribution,
        )
    # Validating against the hook specs loads pluggy: only when a backend is used.
    from sessionstore.contract import plugin_manager

    plugin_manager(plugin, info)
    return info, plugin


def _not_found_message(name: str, disabled: frozenset[str]) -> str:
    installed = sorted({ep.name for ep in _entry_points() if not _is_disabled(ep.name, disabled)})
    listing = ", ".join(installed) if installed else "none"
    if name in FIRST_PARTY:
        fix = f"install it with: pip install sessionstore-{name}"
    else:
        fix = (
            f"install the distribution that provides it, or check the spelling; "
            f"first-party backends install as: pip install sessionstore-<{'|'.join(FIRST_PARTY)}>"
        )
    return f"no sessionstore backend named {name!r} (installed: {listing}); {fix}"
