"""Text a user may type: Hypothesis strategies shared by the notice property tests."""

from __future__ import annotations

from hypothesis import strategies as st

NASTY = [
    "{{ 7*7 }}",
    "{% raw %}",
    "{% endraw %}{{ config }}",
    "{#",
    "Test\r\nBcc: evil@example.org",
    "\r\n\r\n<html>",
    "مؤتمر الرور \u202eevil\u202c",  # Arabic with a right-to-left override
    "עברית",
    "\x00\x07\x1b[31m",
    "\u2028\u2029\x85\x0b\x0c",
    "=?utf-8?q?=0D=0ABcc:_evil@example.org?=",
    "<script>alert(1)</script>",
    " " * 3,
    "Ünïcödé – „Grüße“ 🚇",
]
USER_TEXT = st.one_of(
    st.text(),
    st.sampled_from(NASTY),
    st.lists(st.sampled_from([*NASTY, "a", " ", "\n", "ß"]), max_size=6).map("".join),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zl", "Zp", "Zs", "Ll"])),
)
