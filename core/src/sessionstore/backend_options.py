"""Build a backend instance from a store's options: an attrs class's options typed
by the shared converter, any other class's passed to its ``__init__``; every option
error a :class:`ConfigurationError` naming the backend and the option."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import cattrs

from sessionstore.errors import ConfigurationError
from sessionstore.settings import converter


def build_backend(cls: type, name: str, options: Mapping[str, Any]) -> object:
    """Instantiate a backend class from options: an attrs class's typed by the
    shared converter, any other class's passed to its ``__init__`` as given. Every
    option error is a :class:`ConfigurationError` naming the backend."""
    if _is_attrs_built(cls):
        return _build_attrs(cls, name, options)
    return _build_plain(cls, name, options)


def _is_attrs_built(cls: type) -> bool:
    """Whether ``cls`` takes its attrs fields as options: its ``__init__`` is one
    attrs generated. ``attrs.has`` alone is true for a plain subclass with an
    ``__init__`` of its own, whose options are that ``__init__``'s parameters;
    attrs makes an ``__attrs_init__`` instead when a class writes its own."""
    owner = next(klass for klass in cls.__mro__ if "__init__" in vars(klass))
    return "__attrs_attrs__" in vars(owner) and "__attrs_init__" not in vars(owner)


def _build_attrs(cls: type, name: str, options: Mapping[str, Any]) -> object:
    """``cls`` from its ``init`` fields, each converted (URL strings included) by
    the shared converter; cattrs' messages reworded to name each option."""
    fields = [field for field in attrs.fields(cls) if field.init]
    required = [field.alias for field in fields if field.default is attrs.NOTHING]
    _check_names(name, options, {field.alias for field in fields}, required)
    try:
        return converter.structure(dict(options), cls)
    except cattrs.BaseValidationError as error:
        details = "; ".join(
            _located(message)
            for message in cattrs.transform_error(error, format_exception=_describe_error)
        )
        raise ConfigurationError(f"invalid option for backend {name!r}: {details}") from None


def _build_plain(cls: type, name: str, options: Mapping[str, Any]) -> object:
    """``cls(**options)``, once the options fit its signature: a ``TypeError`` or
    ``ValueError`` its ``__init__`` raises is then about their values (or a bug),
    reported as such rather than as unknown options."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to read (a class made in C)
        signature = None
    if signature is not None:
        _check_signature(name, options, signature)
    try:
        return cls(**options)
    except ValueError as error:
        raise ConfigurationError(f"invalid option for backend {name!r}: {error}") from error
    except TypeError as error:
        raise ConfigurationError(
            f"backend {name!r} raised TypeError from its options: {error}"
        ) from error


def _check_signature(name: str, options: Mapping[str, Any], signature: inspect.Signature) -> None:
    """Refuse options that do not bind to ``__init__``'s parameters, by name."""
    parameters = signature.parameters.values()
    takes_any = any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters)
    named = [parameter for parameter in parameters if parameter.kind in _BY_NAME]
    known = None if takes_any else {parameter.name for parameter in named}
    required = [parameter.name for parameter in named if parameter.default is parameter.empty]
    _check_names(name, options, known, required)
    try:
        signature.bind(**options)
    except TypeError as error:  # a required positional-only parameter
        raise ConfigurationError(
            f"backend {name!r} cannot be built from options: its __init__ {error}"
        ) from None


_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
"""The kinds of parameter an option can be passed to."""


def _check_names(
    name: str, options: Mapping[str, Any], known: set[str] | None, required: Sequence[str]
) -> None:
    """Refuse options the backend does not take (``known``; ``None``: it takes
    any) and required ones left out, before building it: naming them all."""
    unknown = sorted(set(options) - known) if known is not None else []
    if unknown:
        accepted = sorted(known or ())
        # A store URL's path is the prefix after a host, the root without one.
        slashes = (
            "; a URL's path after its host is the prefix: for a folder, give no host "
            f"({name}:///var/lib/app, three slashes)"
            if unknown == ["prefix"] and "root" in accepted
            else ""
        )
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for backend {name!r}; "
            f"it accepts: {', '.join(accepted) or 'no options'}{slashes}"
        )
    missing = [option for option in required if option not in options]
    if missing:
        noun, has, pronoun = (
            ("option", "has", "it") if len(missing) == 1 else ("options", "have", "them")
        )
        raise ConfigurationError(
            f"backend {name!r} needs the {noun} {', '.join(map(repr, missing))}, "
            f"which {has} no default: give {pronoun} to the store, by keyword or in its URL"
        )


def _located(message: str) -> str:
    """A cattrs message with its JSONPath (``... @ $.root``) as the option it names,
    ``... (option 'root')``; one about the whole class (a validator or
    ``__attrs_post_init__``, ``@ $``) names its option itself, if any."""
    text, at, path = message.rpartition(" @ ")
    if not at:
        return message
    option = re.match(r"\$\.([^.\[]+)", path)
    return f"{text} (option {option[1]!r})" if option else text


def _describe_error(error: BaseException, _type: Any) -> str:
    """Keep the backend's own wording (validators explain what they accept), but
    not a bare ``KeyError``'s: cattrs raises it for a missing field, with its name."""
    if isinstance(error, KeyError) and error.args:
        return f"{error.args[0]!r} is required, but missing"
    return str(error) or type(error).__name__
