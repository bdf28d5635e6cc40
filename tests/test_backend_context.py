"""Context cutting (backends/context.py): exact messages cut, head and last message kept."""
from __future__ import annotations

from psybench.backends.context import fit_messages


def _count(messages):  # one "token" per word, +1 per message: easy to reason about
    return sum(len(m["content"].split()) + 1 for m in messages)


SYS = {"role": "system", "content": "be kind"}  # 3
FIRST = {"role": "user", "content": "instruction background client one"}  # 5
CHAT = (SYS, FIRST) + tuple(
    {"role": "assistant" if i % 2 == 0 else "user", "content": f"turn {i} words here"} for i in range(6))  # 5 each


def test_fits_untouched():
    messages, cut, n = fit_messages(CHAT, _count, 100)
    assert (messages, cut, n) == (CHAT, 0, 38)


def test_cuts_oldest_history_in_role_pairs():
    messages, cut, n = fit_messages(CHAT, _count, 30)  # 38 -> cut 2 (a+u) -> 28
    assert cut == 2 and n == 28
    assert messages == (SYS, FIRST) + CHAT[4:]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_cuts_down_to_head_and_last():
    messages, cut, n = fit_messages(CHAT, _count, 13)
    assert messages == (SYS, FIRST, CHAT[-1]) and cut == 5 and n == 13


def test_too_long_even_minimal_is_reported_by_count():
    messages, cut, n = fit_messages(CHAT, _count, 5)
    assert messages == (SYS, FIRST, CHAT[-1]) and cut == 5 and n == 13 > 5


def test_no_system_message():
    chat = CHAT[1:]
    messages, cut, n = fit_messages(chat, _count, 25)  # 35 -> 25 after one pair
    assert messages == (FIRST,) + CHAT[4:] and cut == 2 and n == 25
