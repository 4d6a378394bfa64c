"""`collector.protocols.regex`: Go's regexp semantics through RE2, and the shortcuts that must agree
with the automaton exactly."""

from __future__ import annotations

import re
import time

import pytest

from collector.protocols.regex import Regex, RegexError, compile


@pytest.mark.parametrize(("pattern", "reason"), [
    ("(a)\\1", "invalid escape sequence: `\\1` (backreferences are not supported in RE2)"),
    ("(?=x)", "invalid perl operator: `(?=` (lookahead is not supported in RE2)"),
    ("(?!x)", "invalid perl operator: `(?!` (lookahead is not supported in RE2)"),
    ("(?<=a)b", "invalid perl operator: `(?<=` (lookbehind is not supported in RE2)"),
    ("(?<!a)b", "invalid perl operator: `(?<!` (lookbehind is not supported in RE2)"),
    ("(?>a)", "invalid perl operator: `(?>` (atomic groups are not supported in RE2)"),
    ("(?P<n>a)(?P=n)", "invalid perl operator: `(?P` (named backreferences are not supported in RE2)"),
    ("a++", "bad repetition operator: `++` (possessive quantifiers are not supported in RE2)"),
    ("\\Z", "invalid escape sequence: `\\Z`"),
    ("\\C", "invalid escape sequence: `\\C`"),
    ("(a", "missing ): `(a`"),
    ("x{1001}", "invalid repetition size: `{1001}`"),
])
@pytest.mark.parametrize("anchored", [False, True])
def test_what_go_rejects_is_an_error_quoting_the_users_pattern(pattern: str, reason: str, anchored: bool) -> None:
    with pytest.raises(RegexError) as info:
        compile(pattern, anchored=anchored)
    assert info.value.reason == reason
    assert str(info.value) == f"invalid regex {pattern!r}: {reason}"


def test_rejected_patterns_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RegexError):
        compile("(?=quiet)")
    assert capfd.readouterr().err == ""


def test_named_groups_both_spellings() -> None:
    rx = compile(r"(?P<user>\w+)@(?<host>[a-z.]+)")
    assert rx.groups == 2
    assert rx.groupindex == {"user": 1, "host": 2}
    m = rx.search("mail: bob@example.org")
    assert m is not None
    assert (m.group(0), m.group("user"), m.group(2)) == ("bob@example.org", "bob", "example.org")
    assert m.groupdict() == {"user": "bob", "host": "example.org"}


def test_perl_classes_are_ascii_as_in_go() -> None:
    assert not compile(r"\d").test("٣")  # Arabic-Indic three: a digit to Python's re, not to Go
    assert re.search(r"\d", "٣")
    assert not compile(r"^\w+$").test("héllo")
    assert compile(r"^\w+$").test("hello_1")
    assert compile(r"\pL").test("é")  # Unicode classes are spelled explicitly


def test_flags_and_text_anchors() -> None:
    assert compile("(?i)GET").test("xget")
    assert compile(r"a\z").test("a") and not compile(r"a\z").test("a\n")
    assert not compile("a$").test("a\n")  # `$` is the end of the text, not before a final newline
    assert compile("(?m)a$").test("a\nb")
    assert not compile("a.b").test("a\nb")
    assert compile("(?s)a.b").test("a\nb")


def test_anchored_is_prometheus_whole_value_with_dot_all() -> None:
    rx = compile("ap.", anchored=True)
    assert not rx.test("xapi") and not rx.test("apix") and rx.test("api")
    assert compile("line1.line2", anchored=True).test("line1\nline2")
    assert compile("a|b", anchored=True).search("ab") is None  # ^(?s:a|b)$, not ^a|b$


def test_unanchored_search_match_fullmatch() -> None:
    rx = compile("b+")
    assert rx.search("abbc").group() == "bb"  # type: ignore[union-attr]
    assert rx.match("abbc") is None and rx.match("bbc").group() == "bb"  # type: ignore[union-attr]
    assert rx.fullmatch("bbc") is None and rx.fullmatch("bb") is not None


def test_non_ascii_groups_are_sliced_by_code_point() -> None:
    m = compile("é(.)(ü)?").search("xéyz")
    assert m is not None and (m.group(0), m.group(1), m.group(2)) == ("éy", "y", None)
    assert compile("é(.)").sub(lambda m: f"<{m.group(1)}>", "xéyéz") == "x<y><z>"


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("x*", "abxd", "-a-b-d-"),  # Go; Python's re.sub gives "-a-b--d-"
    ("", "héllo", "-h-é-l-l-o-"),
    ("a", "banana", "b-n-n-"),
    ("^", "", "-"),
    ("b*", "abc", "-a-c-"),
])
def test_sub_follows_go_replace_all(pattern: str, text: str, expected: str) -> None:
    assert compile(pattern).sub(lambda m: "-", text) == expected


def test_sub_returns_the_same_object_when_nothing_matches() -> None:
    text = "nothing here"
    assert compile("[0-9]").sub(lambda m: "#", text) is text


SHORTCUT_CASES = [
    ("up", ["up", "upx", "xup", ""]),
    ("", ["", "a"]),
    ("(.*)", ["", "a\nb", "é"]),
    (".*", ["", "a\nb"]),
    ("up|http_.*|process_.*", ["up", "upx", "http_", "http_requests\n", "process", "xhttp_a", ""]),
    ("a|", ["", "a", "b"]),
    ("__meta_kubernetes_pod_label_(.+)", ["__meta_kubernetes_pod_label_app", "__meta_kubernetes_pod_label_",
                                          "job", "x__meta_kubernetes_pod_label_app"]),
    ("^/r/[0-9]+$", ["/r/12", "/r/", "x/r/1", "/r/1\n"]),
    ("abc?d", ["abd", "abcd", "ab", "xabd"]),
    ("/u/([0-9]+)", ["/u/1/u/22/x", "/u/", "a/u/7", "/v/1", "/u/1é/u/2"]),
]


@pytest.mark.parametrize(("pattern", "texts"), SHORTCUT_CASES)
@pytest.mark.parametrize("anchored", [False, True])
def test_shortcuts_agree_with_the_automaton(pattern: str, texts: list[str], anchored: bool) -> None:
    fast = compile(pattern, anchored=anchored)
    slow = Regex(pattern, anchored)
    slow.kind = "re2"  # the same pattern, always through RE2
    slow._lead = ""
    for text in texts:
        for _ in range(2):  # the second time from the memo
            assert fast.test(text) == slow.test(text), (pattern, text)
            got, want = fast.search(text), slow.search(text)
            assert (got is None) == (want is None), (pattern, text)
            if got is not None and want is not None:
                assert [got.group(i) for i in range(fast.groups + 1)] == \
                       [want.group(i) for i in range(slow.groups + 1)]
            assert fast.sub(lambda m: "<>", text) == slow.sub(lambda m: "<>", text)


def test_memo_is_bounded() -> None:
    rx = compile("(x+)y")
    for i in range(10_000):
        rx.test(f"{i}xy")
        rx.search(f"{i}xy")
    assert len(rx._test_memo) <= 4096 and len(rx._search_memo) <= 4096
    long = "x" * 1000 + "y"
    assert rx.test(long) and long not in rx._test_memo


def test_linear_time_on_a_catastrophic_pattern() -> None:
    """`(a+)+$` on "aaaa…b" takes exponential time with backtracking; RE2 answers at once."""
    rx = compile("(a+)+$")
    start = time.perf_counter()
    assert not rx.test("a" * 5000 + "b")
    assert rx.search("a" * 5000 + "b") is None
    assert time.perf_counter() - start < 1.0


def test_compiled_regexes_are_shared() -> None:
    assert compile("a+b") is compile("a+b")
    assert compile("a+b") is not compile("a+b", anchored=True)
