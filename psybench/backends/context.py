"""Fit a chat into the model's context by cutting the OLDEST history messages.

Kept always: leading system message(s), the first user message (the instruction and the session
background) and the last message (what the model answers). Cut: the messages right after the first
user message, oldest first, until the chat template's token count fits. When a cut would leave two
messages of the same role side by side, the next one goes too, so roles keep alternating (some chat
templates reject anything else). Shared by the vllm, hf and openai (with a tokenizer) backends."""
from __future__ import annotations

from collections.abc import Callable, Sequence

Messages = tuple[dict[str, str], ...]


def chat_token_counter(tokenizer) -> Callable[[Sequence[dict[str, str]]], int]:
    """Token count of a chat as the model sees it (chat template + generation prompt)."""

    def count(messages: Sequence[dict[str, str]]) -> int:
        ids = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # transformers 5 may return a BatchEncoding
            ids = ids["input_ids"]
        return len(ids)

    return count


def fit_messages(messages: Sequence[dict[str, str]], count_tokens: Callable[[Sequence[dict[str, str]]], int],
                 max_prompt_tokens: int) -> tuple[Messages, int, int]:
    """Return (messages that fit, number of history messages cut, prompt token count).

    If even the kept head + last message do not fit, the shortest form is returned with its
    (too large) token count; the caller reports it as an error for that request."""
    msgs = tuple(messages)
    n_tokens = count_tokens(msgs)
    if n_tokens <= max_prompt_tokens:
        return msgs, 0, n_tokens
    head_end = 0
    while head_end < len(msgs) and msgs[head_end]["role"] == "system":
        head_end += 1
    if head_end < len(msgs) and msgs[head_end]["role"] == "user":
        head_end += 1  # the first user message carries the instruction and background
    head, history, last = msgs[:head_end], list(msgs[head_end:-1]), msgs[-1:]
    if head_end >= len(msgs):  # nothing but the head: nothing to cut
        return msgs, 0, n_tokens
    cut = 0
    while history and n_tokens > max_prompt_tokens:
        history.pop(0)
        cut += 1
        prev_role = head[-1]["role"] if head else None
        while history and history[0]["role"] == prev_role:  # keep roles alternating
            history.pop(0)
            cut += 1
        n_tokens = count_tokens(head + tuple(history) + last)
    return head + tuple(history) + last, cut, n_tokens
