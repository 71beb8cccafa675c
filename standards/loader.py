"""Load YAML files keeping line numbers, and validate them against a JSON Schema.

Every problem is reported as ``file:line: reason`` so an author can go straight
to the mistake. Duplicate keys (which YAML parsers silently overwrite) are
problems too.

Loading is safe against hostile files: anchors and aliases are refused (an alias
bomb of a few hundred bytes would otherwise expand to gigabytes), nesting depth,
node count and file size are bounded, a value YAML cannot construct (an unquoted
``2026-13-01`` is read as a date) and text with NUL or control characters are
problems at their line, never a traceback.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from .text import text_problem

Path_ = tuple[Any, ...]
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_SCALAR = 100_000  # characters in one value


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
    """Parse ``text``; a syntax error, an alias or an unreadable value becomes a problem, not an exception."""
    if len(text) > MAX_FILE_BYTES:
        return Document(file, None, {}, [Problem(file, 1, f"the file is larger than {MAX_FILE_BYTES} bytes")])
    refusal = _screen(text, file)
    if refusal is not None:
        return Document(file, None, {}, [refusal])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(exc, "problem", None) or str(exc)
        return Document(file, None, {}, [Problem(file, line, f"not valid YAML: {reason}")])
    except RecursionError:  # _screen bounds the depth; this is a last guard
        return Document(file, None, {}, [Problem(file, 1, f"nested deeper than {MAX_DEPTH} levels")])
    doc = Document(file, None)
    if node is None:
        doc.problems.append(Problem(file, 1, "the file is empty"))
        return doc
    doc.data = _build(node, (), doc)
    return doc


def _screen(text: str, file: str) -> Problem | None:
    """Walk the event stream (no recursion, nothing built) and refuse aliases, anchors, depth and size."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, yaml.AliasEvent):
                return Problem(file, line, f"aliases (*{event.anchor}) are not allowed; write the value out")
            if getattr(event, "anchor", None):
                return Problem(file, line, f"anchors (&{event.anchor}) are not allowed; write the value out")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return Problem(file, line, f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                nodes += 1
                if nodes > MAX_NODES:
                    return Problem(file, line, f"more than {MAX_NODES} values")
    except yaml.YAMLError:
        return None  # compose reports the syntax error with its line
    return None


def load_file(path: Path, root: Path | None = None) -> Document:
    name = str(path.relative_to(root)) if root else str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return Document(name, None, {}, [Problem(name, 1, f"cannot be read: {exc.strerror}")])
    if size > MAX_FILE_BYTES:
        return Document(name, None, {}, [Problem(name, 1, f"the file is larger than {MAX_FILE_BYTES} bytes")])
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
            key = _scalar(key_node, doc)
            try:
                hash(key)
            except TypeError:
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, "a key must be a plain value"))
                continue
            if key in result:
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, f"duplicate key '{key}'"))
            result[key] = _build(value_node, path + (key,), doc)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), doc) for i, item in enumerate(node.value)]
    return _scalar(node, doc)


def _scalar(node: yaml.Node, doc: Document | None = None) -> Any:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode):
        if doc is not None:
            doc.problems.append(Problem(doc.file, line, "a key must be a plain value, not a list or mapping"))
        return None
    loader = yaml.SafeLoader("")
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, OverflowError, yaml.YAMLError) as exc:
        if doc is not None:
            hint = " (quote it if it is text)" if node.tag.endswith(":timestamp") else ""
            doc.problems.append(Problem(doc.file, line, f"'{node.value[:80]}' cannot be read: {exc}{hint}"))
        return None
    finally:
        loader.dispose()
    if isinstance(value, str) and doc is not None:
        problem = text_problem(value, MAX_SCALAR)
        if problem:
            doc.problems.append(Problem(doc.file, line, f"text {problem}"))
    return value


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
