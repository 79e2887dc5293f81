"""The slice of GitHub's GraphQL API trender uses, for the fake GitHub: ``nodes(ids:)`` / ``node(id:)``
resolving repositories, and ``rateLimit``.

A small parser reads the query (operation, variables, aliases, arguments, inline fragments), so
only the fields a client asks for come back, as on GitHub; an unknown field is a validation error
(HTTP 200, ``errors`` and no ``data``) once the executor reaches it (GitHub validates statically;
the fake only checks the selections it resolves). A node id that resolves to nothing gives ``null`` in
``nodes`` plus an error ``{"type": "NOT_FOUND", "path": ["nodes", i], ...}``: GitHub's shape for a
per-item miss. A field an object lists in ``failing_fields`` is a partial error: ``null`` plus an
error whose path names it (``["nodes", i, "openIssues"]``), as GitHub answers when one connection
times out. Stdlib only.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

_TOKEN = re.compile(r'\s+|,|#[^\n]*|(?P<tok>\.\.\.|[{}()\[\]:!$=@]|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|[_A-Za-z][_0-9A-Za-z]*)')


class GraphQLError(Exception):
    def __init__(self, message: str, line: int = 1, column: int = 1, **extra: Any):
        super().__init__(message)
        self.body = {"message": message, "locations": [{"line": line, "column": column}], **extra}


@dataclass
class Field:
    name: str
    alias: Optional[str]
    args: dict[str, Any]
    selections: list  # of Field | Fragment
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class Fragment:
    type_condition: Optional[str]
    selections: list = field(default_factory=list)


@dataclass
class _Var:
    name: str


def _tokenize(text: str) -> list[tuple[str, int, int]]:
    tokens, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise GraphQLError(f"Parse error on \"{text[pos]}\"", line, pos - line_start + 1)
        if match.group("tok"):
            tokens.append((match.group("tok"), line, pos - line_start + 1))
        chunk = match.group(0)
        if "\n" in chunk:
            line += chunk.count("\n")
            line_start = pos + chunk.rindex("\n") + 1
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> Optional[str]:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self, expected: Optional[str] = None) -> tuple[str, int, int]:
        if self.i >= len(self.tokens):
            raise GraphQLError("Parse error: unexpected end of query")
        token = self.tokens[self.i]
        if expected is not None and token[0] != expected:
            raise GraphQLError(f"Parse error on \"{token[0]}\" (expected \"{expected}\")", token[1], token[2])
        self.i += 1
        return token

    def document(self) -> list:
        if self.peek() == "query":
            self.take()
            if self.peek() not in ("(", "{"):
                self.take()  # operation name
            if self.peek() == "(":
                depth = 0
                while True:  # variable definitions: types and defaults are not checked
                    token = self.take()[0]
                    depth += token == "("
                    depth -= token == ")"
                    if depth == 0:
                        break
        selections = self.selection_set()
        if self.peek() is not None:
            token = self.tokens[self.i]
            raise GraphQLError(f"Parse error on \"{token[0]}\"", token[1], token[2])
        return selections

    def selection_set(self) -> list:
        self.take("{")
        selections = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take()
                condition = None
                if self.peek() == "on":
                    self.take()
                    condition = self.take()[0]
                selections.append(Fragment(condition, self.selection_set()))
                continue
            name, line, column = self.take()
            alias = None
            if self.peek() == ":":
                self.take()
                alias, (name, line, column) = name, self.take()
            args = self.arguments() if self.peek() == "(" else {}
            children = self.selection_set() if self.peek() == "{" else []
            selections.append(Field(name, alias, args, children, line, column))
        self.take("}")
        return selections

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        args = {}
        while self.peek() != ")":
            name = self.take()[0]
            self.take(":")
            args[name] = self.value()
        self.take(")")
        return args

    def value(self) -> Any:
        token = self.take()[0]
        if token == "$":
            return _Var(self.take()[0])
        if token == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if token == "{":
            obj = {}
            while self.peek() != "}":
                key = self.take()[0]
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        if token.startswith('"'):
            return token[1:-1].encode().decode("unicode_escape")
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        return {"true": True, "false": False, "null": None}.get(token, token)


def parse(text: str) -> list:
    return _Parser(text).document()


def _resolve_args(args: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, _Var):
            return variables.get(value.name)
        if isinstance(value, list):
            return [one(v) for v in value]
        return value
    return {k: one(v) for k, v in args.items()}


Resolver = Callable[[Any, dict[str, Any]], Any]
"""(parent value, arguments) -> a scalar, or (type name, object) for an object field."""


@dataclass
class Schema:
    """Object types as field -> resolver; a resolver returns a scalar, or ``(type, value)``."""

    types: dict[str, dict[str, Resolver]]

    def execute(self, selections: list, type_name: str, value: Any, variables: dict[str, Any],
                path: list, errors: list) -> dict:
        fields = self.types[type_name]
        out: dict[str, Any] = {}
        for selection in selections:
            if isinstance(selection, Fragment):
                if selection.type_condition in (None, type_name):
                    out.update(self.execute(selection.selections, type_name, value, variables, path, errors))
                continue
            if selection.name == "__typename":
                out[selection.key] = type_name
                continue
            resolver = fields.get(selection.name)
            if resolver is None:
                raise GraphQLError(f"Field '{selection.name}' doesn't exist on type '{type_name}'",
                                   selection.line, selection.column, path=["query", selection.name],
                                   extensions={"code": "undefinedField", "typeName": type_name,
                                               "fieldName": selection.name})
            failing = getattr(value, "failing_fields", None) or {}
            if selection.name in failing:  # a partial error: null in the data, the error beside
                result = Missing(None, failing[selection.name])
            else:
                result = resolver(value, _resolve_args(selection.args, variables))
            out[selection.key] = self._complete(selection, result, variables, [*path, selection.key], errors)
        return out

    def _complete(self, selection: Field, result: Any, variables: dict[str, Any], path: list, errors: list) -> Any:
        if isinstance(result, Missing):
            errors.append({**({"type": result.type} if result.type else {}), "path": path,
                           "locations": [{"line": selection.line, "column": selection.column}],
                           "message": result.message})
            return None
        if isinstance(result, list):
            return [self._complete(selection, item, variables, [*path, i], errors) for i, item in enumerate(result)]
        if isinstance(result, tuple):
            type_name, obj = result
            if not selection.selections:
                raise GraphQLError(f"Field must have selections (field '{selection.name}' returns {type_name} "
                                   "but has no selections. Did you mean '{ ... }'?)", selection.line, selection.column)
            return self.execute(selection.selections, type_name, obj, variables, path, errors)
        return result


@dataclass(frozen=True)
class Missing:
    """A node or field that cannot be resolved: ``null`` in the data, an error naming it beside
    (GitHub gives a type such as NOT_FOUND for a node; a field that timed out has a message only)."""

    type: Optional[str]
    message: str


def decode_node_id(node_id: Any) -> Optional[tuple[str, int]]:
    """(type, database id) from a legacy global id such as base64("010:Repository123")."""
    if not isinstance(node_id, str):
        return None
    try:
        text = base64.b64decode(node_id, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    match = re.fullmatch(r"\d+:([A-Za-z]+)(\d+)", text)
    return (match.group(1), int(match.group(2))) if match else None
