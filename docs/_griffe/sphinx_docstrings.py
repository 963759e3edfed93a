"""A Griffe extension for the API pages: docstrings written for Sphinx read well in Markdown.

The code's docstrings use Sphinx roles (``:class:`ConflictError```), ``::`` before
literal blocks, and prose paragraphs after ``:param:``/``:return:`` fields. This
extension, run once the package is loaded:

- turns each role into an *optional* autorefs link: a link when its target is
  documented on the site, plain code otherwise, so a role naming a builtin or a
  third-party class never breaks ``mkdocs build --strict``;
- turns a trailing ``::`` into ``:`` (the indented block after it is code anyway);
- moves prose that follows a field list before it, as Sphinx renders it; Griffe's
  parser would otherwise fold that prose into the last field's description.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(?P<short>~?)(?P<target>[\w.]+)`")
LITERAL_BLOCK_MARKER = re.compile(r"(?<=\S)::$", re.MULTILINE)
FIELD = re.compile(r"^:(?:param|parameter|arg|type|returns?|rtype|raises?|var|ivar)\b[^:]*:")


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)  # type: ignore[arg-type]


def _identifier(scope: griffe.Object, target: str) -> str:
    head, dot, rest = target.partition(".")
    try:
        resolved = scope.resolve(head)
    except griffe.NameResolutionError:
        return target
    return f"{resolved}{dot}{rest}"


def convert(scope: griffe.Object, text: str) -> str:
    """Rewrite the roles in ``text`` as optional cross-references resolved in ``scope``."""

    def link(match: re.Match[str]) -> str:
        target = match["target"]
        title = target.rpartition(".")[2] if match["short"] else target
        identifier = _identifier(scope, target)
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return LITERAL_BLOCK_MARKER.sub(":", ROLE.sub(link, fields_last(text)))


def fields_last(text: str) -> str:
    """Move the field list (``:param x:`` lines and their indented continuations)
    after every prose paragraph."""
    prose: list[str] = []
    fields: list[str] = []
    in_field = False
    for line in text.splitlines():
        if FIELD.match(line):
            in_field = True
        elif in_field and line.strip() and not line[0].isspace():
            in_field = False
        (fields if in_field else prose).append(line)
    if not fields:
        return text
    return "\n".join(prose).rstrip() + "\n\n" + "\n".join(fields).rstrip()


class SphinxDocstrings(griffe.Extension):
    """Convert every docstring of a package once it is fully loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = convert(obj, obj.docstring.value)
