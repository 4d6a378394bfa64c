"""Go/RE2 regular expressions: the one compiler for every regex a user writes.

Theory of operation
-------------------
Alloy and the OpenTelemetry Collector are Go programs, so a `regex` in a relabel rule, an OTTL
`IsMatch`/`replace_pattern`, or an attributes `include`/`exclude` means what Go's `regexp` says it
means: RE2 syntax (no backreferences, no lookaround, no possessive quantifiers), leftmost-first
matching, `\\d`/`\\w`/`\\s`/`\\b` over ASCII only, `$` only at the end of the text unless `(?m)`, and
time linear in the input. Python's `re` differs on each point and backtracks, so a pattern written
for Alloy could be accepted here with another meaning, or take exponential time on one bad value.
We therefore compile and execute with Google's RE2 (the `google-re2` bindings), which implements
the same syntax and semantics as Go's `regexp` (Go's own package is a port of RE2).

`compile(pattern)` is Go's `regexp.Compile`: unanchored, as the Collector uses it.
`compile(pattern, anchored=True)` is Prometheus' relabel regex, `^(?s:pattern)$`: the whole value
must match and `.` also matches a newline. Either raises `RegexError` with RE2's reason (in Go's
words, e.g. "invalid escape sequence: `\\1`") plus a hint when the construct is one RE2 lacks.

Execution goes straight to the `_re2.RE2` object underneath the bindings: the bindings' `re`-like
wrapper costs several microseconds per call (a generator, offset tables, a match object), which is
more than the match itself on label-sized strings. RE2 reports byte offsets into the UTF-8 text;
for ASCII text (nearly every label and attribute) they are also character offsets, otherwise groups
are sliced from the bytes and decoded (RE2 in UTF-8 mode only matches whole code points, which is
why `\\C`, "any byte", is rejected as Go rejects it).

What keeps it fast, without giving up RE2 execution:
- results are memoised per value (bounded; short values only), since the same label or attribute
  values recur across series and items -- the relabel code already caches per series for the same
  reason;
- patterns that are plain literals, anchored alternations of literals and literal prefixes
  (`up|http_.*`), and the relabel default `(.*)` are answered with `==`, `in`, `startswith` and
  `find`. Those are exact: such a pattern matches precisely the strings those operations accept,
  so nothing is lost by not running the automaton;
- a pattern whose matches all start with some literal text first checks for it -- `startswith`
  when the pattern only matches at the start (anchored or led by `^`, e.g.
  `__meta_kubernetes_pod_label_(.+)`), `in` otherwise (`/users/([0-9]+)`): a value without that
  text cannot match, so the automaton only runs on candidates (and `sub` stops looking once the
  rest of the value lacks it).

`Regex.sub` is Go's `ReplaceAllStringFunc`: an empty match right after a previous match is not
replaced (Python's `re.sub` replaces it), so `x*` over "abxd" gives "-a-b-d-" as in Go.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Final, Literal, Mapping

import re2 as _bindings
from re2 import _re2

__all__ = ["Match", "Regex", "RegexError", "compile"]

# Values longer than this are not memoised: they rarely recur (log bodies, URLs with ids), and the
# per-call overhead the memo saves is small next to scanning them.
_MEMO_MAX_LEN: Final = 256
_MEMO_ENTRIES: Final = 4096
# Go's regexp has no memory cap; RE2's default (8 MiB) rejects large alternations (a labelkeep of a
# few thousand names) that Go accepts, so allow more. This caps the DFA cache, not a reservation.
_MAX_MEM: Final = 64 << 20

_UNANCHORED: Final = _re2.RE2.Anchor.UNANCHORED
_ANCHOR_START: Final = _re2.RE2.Anchor.ANCHOR_START
_ANCHOR_BOTH: Final = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_SPAN: Final = (-1, -1)

# Characters that make a pattern more than a literal string.
_META: Final = frozenset("\\.+*?()|[]{}^$")


class RegexError(ValueError):
    """A pattern RE2 (and so Go) does not accept. `reason` is RE2's explanation in Go's words."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"invalid regex {pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


def _options(capture: bool) -> _re2.RE2.Options:
    options = _bindings.Options()
    options.log_errors = False  # RE2 would print every rejected pattern on stderr
    options.max_mem = _MAX_MEM
    options.never_capture = not capture
    return options


_CAPTURING: Final = _options(True)
_NON_CAPTURING: Final = _options(False)

# RE2 error text -> the hint for constructs that exist in Perl/Python but not in RE2.
_HINTS: Final = (
    ("invalid perl operator: (?=", "lookahead is not supported"),
    ("invalid perl operator: (?!", "lookahead is not supported"),
    ("invalid perl operator: (?<", "lookbehind is not supported"),
    ("invalid perl operator: (?>", "atomic groups are not supported"),
    ("invalid perl operator: (?P", "named backreferences are not supported"),
    ("bad repetition operator: ", "possessive quantifiers are not supported"),
)


def _reason(error: bytes) -> str:
    """RE2's "code: fragment" as Go prints it ("code: `fragment`"), with a hint where useful."""
    message = error.decode("utf-8", "replace")
    code, sep, fragment = message.partition(": ")
    text = f"{code}: `{fragment}`" if sep else message
    if code == "invalid escape sequence" and fragment[1:2].isdigit():
        return f"{text} (backreferences are not supported in RE2)"
    for prefix, hint in _HINTS:
        if message.startswith(prefix):
            return f"{text} ({hint} in RE2)"
    return text


def _check_go_only(pattern: str) -> None:
    """Reject what RE2 accepts but Go does not: `\\C` (one byte, which can split a code point)."""
    i = pattern.find("\\")
    while i >= 0:
        if pattern[i + 1:i + 2] == "C":
            raise RegexError(pattern, "invalid escape sequence: `\\C`")
        i = pattern.find("\\", i + 2)


def _re2_compile(pattern: str, text: str, options: _re2.RE2.Options) -> _re2.RE2:
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise RegexError(pattern, "invalid UTF-8") from None
    compiled = _re2.RE2(encoded, options)
    if not compiled.ok():
        raise RegexError(pattern, _reason(compiled.error()))
    return compiled


def _is_literal(text: str) -> bool:
    return not _META.intersection(text)


def _required_lead(pattern: str) -> str:
    """Literal text every match must start the value with, for a pattern matched at the start of
    the value only (anchored, or led by `^`): the characters before the first metacharacter, less
    the last one if a quantifier follows it. Any `|` could offer another start, so gives ""."""
    if "|" in pattern:
        return ""
    body = pattern[1:] if pattern.startswith("^") else pattern
    end = 0
    while end < len(body) and body[end] not in _META:
        end += 1
    if end < len(body) and body[end] in "*+?{":
        end -= 1
    return body[:max(end, 0)]


Kind = Literal["re2", "literal", "anything", "prefixes"]


class Match:
    """One match: groups by number or name, as strings (None for a group that did not take part).

    `spans` are byte offsets into `raw`, or character offsets into `text` when `raw` is None
    (ASCII text and the literal fast paths, where the two coincide)."""

    __slots__ = ("re", "text", "_raw", "_spans")

    def __init__(self, regex: Regex, text: str, raw: bytes | None, spans: list[tuple[int, int]]) -> None:
        self.re = regex
        self.text = text
        self._raw = raw
        self._spans = spans

    def group(self, index: int | str = 0) -> str | None:
        if type(index) is str:
            index = self.re.groupindex[index]
        start, end = self._spans[index]  # type: ignore[index]
        if start < 0:
            return None
        if self._raw is None:
            return self.text[start:end]
        return self._raw[start:end].decode("utf-8", "surrogatepass")

    def __getitem__(self, index: int | str) -> str | None:
        return self.group(index)

    def groupdict(self) -> dict[str, str | None]:
        return {name: self.group(index) for name, index in self.re.groupindex.items()}


class Regex:
    """A compiled Go/RE2 regex. `anchored` regexes (Prometheus) match only the whole value, so
    `search`, `match` and `fullmatch` agree on them."""

    __slots__ = ("pattern", "anchored", "groups", "groupindex", "kind", "_re", "_test_re", "_literal",
                 "_prefixes", "_exact", "_lead", "_inner", "_search_memo", "_test_memo", "_all_memo")

    def __init__(self, pattern: str, anchored: bool) -> None:
        self.pattern = pattern
        self.anchored = anchored
        _check_go_only(pattern)
        # Compile the pattern as written first, so an error quotes the user's text, not our wrapper.
        bare = _re2_compile(pattern, pattern, _CAPTURING)
        self._re = _re2_compile(pattern, f"^(?s:{pattern})$", _CAPTURING) if anchored else bare
        self.groups: int = bare.NumberOfCapturingGroups()
        self.groupindex: Mapping[str, int] = {name.decode("utf-8"): index
                                              for name, index in bare.NamedCapturingGroups()}
        self._test_re = self._re if self.groups == 0 else _re2_compile(
            pattern, f"^(?s:{pattern})$" if anchored else pattern, _NON_CAPTURING)
        self._literal = ""
        self._prefixes: tuple[str, ...] = ()
        self._exact: frozenset[str] = frozenset()
        self.kind: Kind = self._plan()
        # Literal text every match starts with: at the start of the value (`_lead`) when the
        # pattern can only match there, else somewhere in it (`_inner`).
        lead = _required_lead(pattern)
        at_start = anchored or pattern.startswith("^")
        self._lead = lead if at_start else ""
        self._inner = "" if at_start else lead
        self._search_memo: dict[str, Match | None] = {}
        self._test_memo: dict[str, bool] = {}
        self._all_memo: dict[str, tuple[bytes | None, list[list[tuple[int, int]]]]] = {}

    def _plan(self) -> Kind:
        """Pick an exact shortcut for the pattern shapes relabel rules and filters use most."""
        p = self.pattern
        if _is_literal(p):
            self._literal = p
            return "literal"
        if self.anchored and p in ("(.*)", ".*"):
            return "anything"  # (?s) lets `.` take newlines: every value matches, whole
        if self.anchored and "(" not in p:
            exact, prefixes = [], []
            for branch in p.split("|"):
                if branch.endswith(".*") and _is_literal(branch[:-2]):
                    prefixes.append(branch[:-2])
                elif _is_literal(branch):
                    exact.append(branch)
                else:
                    return "re2"
            self._exact, self._prefixes = frozenset(exact), tuple(prefixes)
            return "prefixes"
        return "re2"

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, anchored={self.anchored})"

    # --- booleans ------------------------------------------------------------------------------
    def test(self, text: str) -> bool:
        """Does the regex match (anywhere, or the whole value when anchored)? Go's `MatchString`."""
        kind = self.kind
        if kind == "literal":
            return text == self._literal if self.anchored else self._literal in text
        if kind == "anything":
            return True
        if kind == "prefixes":
            return text in self._exact or text.startswith(self._prefixes)
        if (self._lead and not text.startswith(self._lead)) or (self._inner and self._inner not in text):
            return False
        memo = self._test_memo
        found = memo.get(text)
        if found is not None:
            return found
        raw = text.encode("utf-8", "surrogatepass")
        found = self._test_re.Match(_UNANCHORED, raw, 0, len(raw))[0][0] >= 0
        if len(text) <= _MEMO_MAX_LEN:
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            memo[text] = found
        return found

    # --- matches -------------------------------------------------------------------------------
    def _execute(self, anchor: _re2.RE2.Anchor, text: str) -> Match | None:
        raw = text.encode("utf-8", "surrogatepass")
        spans = self._re.Match(anchor, raw, 0, len(raw))
        if spans[0][0] < 0:
            return None
        return Match(self, text, None if len(raw) == len(text) else raw, spans)

    def search(self, text: str) -> Match | None:
        """The leftmost-first match (the whole value when anchored). Go's `FindStringSubmatch`."""
        kind = self.kind
        if kind == "literal":
            if self.anchored:
                return Match(self, text, None, [(0, len(text))]) if text == self._literal else None
            at = text.find(self._literal)
            return None if at < 0 else Match(self, text, None, [(at, at + len(self._literal))])
        if kind == "anything":
            whole = (0, len(text))
            return Match(self, text, None, [whole] * (self.groups + 1))
        if kind == "prefixes":
            return Match(self, text, None, [(0, len(text))]) if self.test(text) else None
        if (self._lead and not text.startswith(self._lead)) or (self._inner and self._inner not in text):
            return None
        memo = self._search_memo
        found = memo.get(text, memo)
        if found is not memo:
            return found  # type: ignore[return-value]
        found = self._execute(_UNANCHORED, text)
        if len(text) <= _MEMO_MAX_LEN:
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            memo[text] = found
        return found

    def match(self, text: str) -> Match | None:
        """A match that starts at the beginning of the value."""
        if self.anchored:
            return self.search(text)
        return self._execute(_ANCHOR_START, text)

    def fullmatch(self, text: str) -> Match | None:
        """A match of the whole value."""
        if self.anchored:
            return self.search(text)
        return self._execute(_ANCHOR_BOTH, text)

    # --- replacement ---------------------------------------------------------------------------
    def _replaced_spans(self, text: str) -> tuple[bytes | None, list[list[tuple[int, int]]]]:
        """Go's `replaceAll` walk: the spans of every match that gets replaced, in order."""
        raw = text.encode("utf-8", "surrogatepass")
        end = len(raw)
        if (self._lead and not text.startswith(self._lead)) or (self._inner and self._inner not in text):
            return None, []
        inner = self._inner.encode("utf-8")
        run = self._re.Match
        found: list[list[tuple[int, int]]] = []
        last = pos = 0
        while pos <= end:
            if inner and raw.find(inner, pos) < 0:
                break  # no later match can start: each starts with `inner`
            spans = run(_UNANCHORED, raw, pos, end)
            start, stop = spans[0]
            if start < 0:
                break
            # An empty match right after the previous match is not replaced (Go, unlike Python).
            if stop > last or start == 0:
                found.append(spans)
            last = stop
            # Advance past this match, and by at least one character.
            if pos < end:
                lead = raw[pos]
                width = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            else:
                width = 0
            if pos + width > stop:
                pos += width
            elif pos + 1 > stop:
                pos += 1
            else:
                pos = stop
        return (None if end == len(text) else raw), found

    def sub(self, replace: Callable[[Match], str], text: str) -> str:
        """Go's `ReplaceAllStringFunc`: every match replaced by `replace(match)`; `text` itself
        (the same object) when nothing matches."""
        memo = self._all_memo
        entry = memo.get(text)
        if entry is None:
            entry = self._replaced_spans(text)
            if len(text) <= _MEMO_MAX_LEN:
                if len(memo) >= _MEMO_ENTRIES:
                    memo.clear()
                memo[text] = entry
        raw, matches = entry
        if not matches:
            return text
        if raw is None:
            pieces: list[str] = []
            last = 0
            for spans in matches:
                start, stop = spans[0]
                pieces.append(text[last:start])
                pieces.append(replace(Match(self, text, None, spans)))
                last = stop
            pieces.append(text[last:])
            return "".join(pieces)
        parts: list[bytes] = []
        last = 0
        for spans in matches:
            start, stop = spans[0]
            parts.append(raw[last:start])
            parts.append(replace(Match(self, text, raw, spans)).encode("utf-8", "surrogatepass"))
            last = stop
        parts.append(raw[last:])
        return b"".join(parts).decode("utf-8", "surrogatepass")


@lru_cache(maxsize=1024)
def compile(pattern: str, anchored: bool = False) -> Regex:  # noqa: A001 - mirrors re.compile
    """Compile `pattern` as Go does (`anchored=False`, the Collector) or as a Prometheus relabel
    regex (`anchored=True`: `^(?s:pattern)$`). Raises `RegexError`. Compiled regexes are shared:
    they are immutable apart from their bounded memos."""
    return Regex(pattern, anchored)
