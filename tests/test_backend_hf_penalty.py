"""The hf backend's frequency penalty (transformers has none): logit -= penalty x count among the generated
tokens, the padded prompt never counted."""
from __future__ import annotations

import torch

from psybench.backends.hf import frequency_penalty


def test_frequency_penalty_counts_generated_tokens_only() -> None:
    # two rows, prompt width 3 (token 4 sits in row 0's prompt), then generated tokens
    input_ids = torch.tensor([[4, 4, 1, 2, 2, 4],
                              [0, 5, 1, 3, 0, 3]])
    scores = torch.zeros(2, 6)
    out = frequency_penalty(0.5, prompt_width=3)(input_ids, scores)
    assert out.tolist() == [[0.0, 0.0, -1.0, 0.0, -0.5, 0.0],
                            [-0.5, 0.0, 0.0, -1.0, 0.0, 0.0]]


def test_frequency_penalty_before_any_generated_token_changes_nothing() -> None:
    input_ids = torch.tensor([[4, 4, 1]])
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    assert torch.equal(frequency_penalty(2.0, prompt_width=3)(input_ids, scores), scores)
