"""Load YAML files keeping line numbers, and validate them against a JSON Schema.

Every problem is reported as ``file:line: reason`` so an author can go straight
to the mistake. Duplicate keys (which YAML parsers silently overwrite) are
problems too.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

Path_ = tuple[Any, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file, at one line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    @property
    def reason(self) -> str:
        """The message, by the name row importers use ("file:line: reason")."""
        return self.message


class InvalidFiles(Exception):
    """Raised when files are refused; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Document:
    """A parsed YAML file: its data and the line where each value starts."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Iterable[Any]) -> int:
        """The line of the value at ``path``, or of its nearest parent that has one."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Iterable[Any], message: str) -> Problem:
        return Problem(self.file, self.line_of(path), message)


def load_yaml(text: str, file: str = "<text>") -> Document:
    """Parse ``text``; a syntax error becomes a problem on the document, not an exception."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(exc, "problem", None) or str(exc)
        return Document(file, None, {}, [Problem(file, line, f"not valid YAML: {reason}")])
    doc = Document(file, None)
    if node is None:
        doc.problems.append(Problem(file, 1, "the file is empty"))
        return doc
    doc.data = _build(node, (), doc)
    return doc


def load_file(path: Path, root: Path | None = None) -> Document:
    name = str(path.relative_to(root)) if root else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return Document(name, None, {}, [Problem(name, 1, f"not UTF-8 text: {exc.reason}")])
    return load_yaml(text, name)


def _build(node: yaml.Node, path: Path_, doc: Document) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in result:
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, f"duplicate key '{key}'"))
            result[key] = _build(value_node, path + (key,), doc)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), doc) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def schema_problems(doc: Document, schema: dict[str, Any]) -> list[Problem]:
    """Every JSON Schema violation of ``doc``, each at the line of the offending value."""
    validator = Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(doc.data):
        where = ".".join(str(p) for p in error.absolute_path)
        message = _describe(error)
        problems.append(doc.problem(error.absolute_path, f"{where}: {message}" if where else message))
    return problems


def _describe(error) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return "unknown field " + ", ".join(f"'{e}'" for e in extra)
    if error.validator == "required":
        return error.message.replace(" is a required property", " is missing")
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    return error.message


def describe(error) -> str:
    """A short reason for one JSON Schema error (for validating data that has no ``Document``)."""
    return _describe(error)
