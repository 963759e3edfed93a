"""How a backend instance is built from a store's options, and how each option
error reads: attrs classes are typed by the converter, others get the options as
keyword arguments, and either way a bad option is a ConfigurationError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from sessionstore import ConfigurationError, SessionStore
from sessionstore.backend_options import build_backend

from .conftest import InstallPlugin


@attrs.define
class _Attrs:
    root: Path
    timeout: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    verbose: bool = False


class _PlainSubclass(_Attrs):
    """Not an attrs class, though ``attrs.has`` says it is: its options are its own."""

    def __init__(self, name: str = "x", timeout: float = 1.0) -> None:
        super().__init__(root=Path(name), timeout=timeout)


class _Inheriting(_Attrs):
    """A plain subclass keeping the attrs ``__init__``: still typed by the converter."""


class _Plain:
    def __init__(self, root: str, *, timeout: float = 1.0) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.root = root
        self.timeout = timeout


class _Buggy:
    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout + "s"  # type: ignore[operator]


def _refusal(cls: type, options: dict[str, Any]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        build_backend(cls, "x", options)
    return caught.value


@pytest.mark.parametrize("cls", [_Attrs, _Plain])
def test_a_missing_required_option_is_named_as_missing(cls: type) -> None:
    """It read ``invalid option for backend 'x': 'root' @ $.root``: a KeyError's
    text, which does not say the option is required."""
    assert str(_refusal(cls, {})) == (
        "backend 'x' needs the option 'root', which has no default: give it to the "
        "store, by keyword or in its URL"
    )


def test_every_missing_option_is_named_at_once() -> None:
    @attrs.define
    class Two:
        key: str
        secret: str

    assert str(_refusal(Two, {})) == (
        "backend 'x' needs the options 'key', 'secret', which have no default: give them "
        "to the store, by keyword or in its URL"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": "abc"}, "could not convert string to float: 'abc' (option 'timeout')"),
        ({"verbose": "maybe"}, "got 'maybe' (option 'verbose')"),
        ({"root": ""}, "the path is empty (for the working directory, give '.') (option 'root')"),
        ({"timeout": -1}, "'timeout' must be > 0: -1.0"),
    ],
)
def test_attrs_option_errors_name_the_option_without_a_json_path(
    options: dict[str, Any], message: str
) -> None:
    """cattrs ends a field's message with ``@ $.timeout`` and a validator's with
    nothing: each now names its option in words, or already does."""
    error = str(_refusal(_Attrs, {"root": "r", **options}))
    assert error == f"invalid option for backend 'x': {error.partition(': ')[2]}"
    assert error.endswith(message)
    assert "@ $" not in error


def test_a_plain_subclass_of_an_attrs_class_takes_its_own_options() -> None:
    """``attrs.has`` is true for any subclass of an attrs class, so its own
    ``__init__``'s options were refused as unknown."""
    built = build_backend(_PlainSubclass, "x", {"name": "n", "timeout": 2})
    assert isinstance(built, _PlainSubclass)
    assert (built.root, built.timeout) == (Path("n"), 2)
    unknown = str(_refusal(_PlainSubclass, {"root": "r"}))
    assert unknown == "unknown option(s) 'root' for backend 'x'; it accepts: name, timeout"


def test_a_subclass_keeping_the_attrs_init_is_still_typed() -> None:
    built = build_backend(_Inheriting, "x", {"root": "r", "timeout": "2.5"})
    assert isinstance(built, _Inheriting)
    assert (built.root, built.timeout) == (Path("r"), 2.5)


async def test_a_plain_subclass_gets_its_options_through_a_store(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    source = working_backend.replace("class Backend:", "class Base:") + (
        "\n    import attrs"
        "\n    Base = attrs.define(slots=False)(Base)"
        "\n    class Backend(Base):"
        "\n        def __init__(self, timeout=1.0):"
        "\n            super().__init__()"
        "\n            self.timeout = timeout\n"
    )
    install_plugin("subclassed", source)
    store = SessionStore(backend="subclassed", bucket="sessions", timeout=3)
    assert store._storage.plugin.timeout == 3  # type: ignore[attr-defined]


def test_a_plain_class_refuses_unknown_options_by_name() -> None:
    error = _refusal(_Plain, {"root": "r", "timout": 3})
    assert str(error) == "unknown option(s) 'timout' for backend 'x'; it accepts: root, timeout"


def test_a_value_error_from_a_plain_init_is_a_configuration_error() -> None:
    """The docs promise ConfigurationError for option errors: a plain class's
    ValueError escaped bare."""
    error = _refusal(_Plain, {"root": "r", "timeout": -1})
    assert str(error) == "invalid option for backend 'x': timeout must be > 0"
    assert isinstance(error.__cause__, ValueError)


def test_a_type_error_inside_a_plain_init_is_not_called_invalid_options() -> None:
    """Options that fit the signature: a TypeError in ``__init__``'s body is about
    their values or a bug, not "invalid options"; its message and cause are kept."""
    error = _refusal(_Buggy, {"timeout": 2})
    assert str(error).startswith("backend 'x' raised TypeError from its options: unsupported")
    assert isinstance(error.__cause__, TypeError)
