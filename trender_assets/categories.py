"""The categories a day is snapshotted in, and the first day, free of Dagster, so the ``trender``
command can check its arguments (and print ``--help``) without importing Dagster.

Categories are configuration: ``trender.yaml`` in the current folder (beside ``workspace.yaml``),
or the file ``TRENDER_CONFIG`` names; without either, the four built in below. Each entry is one
category, and its key is the partition key of the ``language`` dimension::

    categories:
      rust: {language: Rust}              # GitHub's language name
      llm: {topic: llm}                   # a GitHub topic
      fly: {root_file: fly.toml}          # a file at the repository root, found by code search
      team: {watchlist: [dagster-io/dagster, pola-rs/polars]}   # fetched every day, whatever their rank

The file is read once per process (the code location builds its partitions from it when it loads);
a bad entry is one ``ConfigurationError`` line naming the file and the entry. Whatever is at
``./trender.yaml`` is the configuration: a path there that is not a readable regular file (a
dangling symlink, a FIFO, a device) is an error naming it, never a reason to fall back to the
built-in categories.
"""

from __future__ import annotations

import os
import re
import reprlib
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from trender_assets.errors import ConfigurationError

START_DATE = "2026-01-01"

CONFIG_VARIABLE = "TRENDER_CONFIG"
CONFIG_FILE = "trender.yaml"
KINDS = ("language", "topic", "root_file", "watchlist")

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,38}")
_TOPIC = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")  # GitHub's topic rule
_FILE = re.compile(r"[A-Za-z0-9._-]{1,100}")  # one name at the root: no folders, no qualifiers
_LANGUAGE = re.compile(r"[^\s:\"]+(?: [^\s:\"]+)*")
MAX_CONFIG_BYTES = 1 << 20
"""A configuration file is read up to this size (1 MiB, far above any real one); a larger one is
refused rather than held in memory."""
WATCHLIST_LIMIT = 1000  # one GitHub request each, every day: a longer list would eat the hourly quota


@dataclass(frozen=True)
class Category:
    """One configured category: its partition key, what finds its repositories, and a title."""

    key: str
    kind: str  # one of KINDS
    language: Optional[str] = None  # GitHub's language name (kind "language")
    topic: Optional[str] = None
    root_file: Optional[str] = None
    watchlist: tuple[str, ...] = ()
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.language or (f"#{self.topic}" if self.topic else "") or self.key

    @property
    def finds(self) -> str:
        """What finds its repositories, in one phrase (for the UI and the docs)."""
        if self.kind == "watchlist":
            return "watchlist: " + ", ".join(self.watchlist)
        if self.kind == "root_file":
            return f"code search: {self.root_file} at the root"
        return f"search: {self.kind}:{self.language or self.topic}"

    @property
    def needs_token(self) -> bool:
        """Code search (root files) answers only with a token."""
        return self.kind == "root_file"

    @property
    def keeps_all(self) -> bool:
        """Root-file projects and a watchlist are kept whole in the facts, as render always was;
        language and topic searches keep the top N by momentum."""
        return self.kind in ("root_file", "watchlist")

    @property
    def requires_language(self) -> bool:
        """A language search only returns repositories with a language; other kinds may have none."""
        return self.kind == "language"


DEFAULT = (
    Category("python", "language", language="Python"),
    Category("typescript", "language", language="TypeScript"),
    Category("go", "language", language="Go"),
    Category("render", "root_file", root_file="render.yaml", label="Render projects"),
)
"""Without a file: today's four categories, with their keys and behaviour."""


def config_path() -> Optional[Path]:
    """TRENDER_CONFIG (which must exist), else ./trender.yaml if there is one, else None."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named is not None:
        if not named.strip():
            raise ConfigurationError(f"{CONFIG_VARIABLE} is set but empty: unset it to use ./{CONFIG_FILE}")
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"{CONFIG_VARIABLE} names {path}, which is not a file")
        return path
    here = Path.cwd() / CONFIG_FILE
    # anything at the path (even a symlink to nothing) is the configuration: _read says what is wrong with it
    return here if os.path.lexists(here) else None


def parse(text: str, source: str = CONFIG_FILE) -> tuple[Category, ...]:
    """The categories of a configuration file's text; the first bad entry is one line."""
    import yaml

    try:
        document = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(document, dict) or set(document) != {"categories"}:
        raise ConfigurationError(f"{source}: expected one top-level key, categories: a mapping of key -> entry")
    entries = document["categories"]
    if not isinstance(entries, dict) or not entries:
        raise ConfigurationError(f"{source}: categories must be a non-empty mapping of key -> entry")
    if not all(isinstance(key, str) for key in entries):
        raise ConfigurationError(f"{source}: category keys must be text, like rust or llm")
    return tuple(_category(key, entry, source) for key, entry in entries.items())


def _unique_mapping(loader, node, deep: bool = False) -> dict:
    """A mapping whose repeated key is an error: YAML would keep the last one without a word."""
    import yaml

    seen = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            repeated = key in seen
        except TypeError:  # unhashable: let PyYAML say so
            break
        if repeated:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


@lru_cache(maxsize=None)
def _loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            # No aliases: a few hundred bytes of nested aliases ("billion laughs") stand for billions of
            # values, which an error line or any walk over the document would write out. A category
            # file has nothing to repeat that is worth that risk.
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in trender.yaml: write the value out",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
    return UniqueKeyLoader


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxstring, _SHORT_REPR.maxother = 3, 200, 200


def _shown(value: object) -> str:
    """A value for an error line: its repr, cut short so a pasted blob stays one readable line (and
    cut while it is written, so a value of any size costs no more than its first few items)."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _printable(value: str) -> bool:
    """Text a URL, a log line and PostgreSQL all take: no control characters, no lone surrogates."""
    return value.isprintable() and not any("\ud800" <= ch <= "\udfff" for ch in value)


def _category(key: str, entry: object, source: str) -> Category:
    where = f"{source}: category {_shown(key)}"
    if not _KEY.fullmatch(key):
        raise ConfigurationError(f"{where}: a key is lowercase letters, digits, - and _ (at most 39)")
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: expected a mapping with one of {', '.join(KINDS)}")
    unknown = sorted(set(entry) - {*KINDS, "label"})
    kinds = [k for k in KINDS if k in entry]
    if unknown:
        raise ConfigurationError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(KINDS)}, label)")
    if len(kinds) != 1:
        raise ConfigurationError(f"{where}: needs exactly one of {', '.join(KINDS)}, got {len(kinds)}")
    kind, value = kinds[0], entry[kinds[0]]
    label = entry.get("label", "")
    if not isinstance(label, str) or len(label) > 100 or not _printable(label):
        raise ConfigurationError(f"{where}: label must be one line of text (at most 100 characters)")
    if kind == "watchlist":
        return Category(key, kind, watchlist=_watchlist(value, where), label=label)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: {kind} must be non-empty text")
    value = value.strip()
    if kind == "language" and (len(value) > 50 or not _LANGUAGE.fullmatch(value) or not _printable(value)):
        raise ConfigurationError(f"{where}: {value!r} is not a GitHub language name (e.g. Rust, C++, Jupyter Notebook)")
    if kind == "topic" and not _TOPIC.fullmatch(value):
        raise ConfigurationError(f"{where}: {value!r} is not a GitHub topic (lowercase letters, digits and -)")
    if kind == "root_file" and (not _FILE.fullmatch(value) or value in (".", "..")):
        raise ConfigurationError(f"{where}: {value!r} is not a file name (a name at the root, like fly.toml)")
    return Category(key, kind, label=label, **{kind: value})


def _watchlist(value: object, where: str) -> tuple[str, ...]:
    from trender_assets.logic.repo_names import full_name_problem

    if not isinstance(value, list) or not value:
        raise ConfigurationError(f"{where}: watchlist must be a non-empty list of owner/name")
    if len(value) > WATCHLIST_LIMIT:
        raise ConfigurationError(f"{where}: the watchlist has {len(value)} entries, at most {WATCHLIST_LIMIT}")
    names: dict[str, str] = {}  # lowercased -> as written, first spelling kept (GitHub ignores case)
    for name in value:
        if not isinstance(name, str) or full_name_problem(name.strip()):
            raise ConfigurationError(f"{where}: {_shown(name)} in the watchlist is not a GitHub owner/name")
        names.setdefault(name.strip().lower(), name.strip())
    return tuple(names.values())


@lru_cache(maxsize=None)
def _load(path: Optional[str]) -> tuple[Category, ...]:
    if path is None:
        return DEFAULT
    try:
        text = _read(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc.__class__.__name__}") from None
    return parse(text, path)


_KINDS_OF_FILE = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _read(path: str) -> bytes:
    """The bytes of a configuration file. Only a regular file is configuration: it is opened without
    waiting (a FIFO with no writer would block for ever), what was opened is checked (so a path
    swapped after a check cannot slip through) and at most MAX_CONFIG_BYTES are read (``/dev/zero``
    never ends)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: does not exist (a symlink to a missing file?); "
                                 f"trender.yaml must be a file") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc.__class__.__name__}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS_OF_FILE if test(mode)), "not a file")
        raise ConfigurationError(f"{path}: not a regular file ({kind}); trender.yaml must be a file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigurationError(f"{path}: cannot be read: {exc.__class__.__name__}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigurationError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a category file is far smaller")
    return data


def configured() -> tuple[Category, ...]:
    """This process's categories, in the file's order (read once per file)."""
    path = config_path()
    return _load(str(path) if path is not None else None)


def by_key() -> dict[str, Category]:
    return {c.key: c for c in configured()}


def keys() -> list[str]:
    return [c.key for c in configured()]


def check() -> None:
    """Read and validate the configuration now (the ``trender`` command, before anything starts)."""
    configured()


def __getattr__(name: str):
    """The names modules import from here, computed from the configuration on first use."""
    if name == "LANGUAGES":
        return keys()
    if name == "LANGUAGE_LABELS":  # key -> GitHub's language name, for the search qualifier
        return {c.key: c.language for c in configured() if c.kind == "language"}
    if name == "RENDER":
        return "render"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
