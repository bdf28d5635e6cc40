"""The vllm backend on the real engine (CPU build here), checked against transformers (hf backend):
in float32 greedy decoding both must produce IDENTICAL text for the same prompts, on a tiny
random-weight Llama built here and on SmolLM2-135M-Instruct. One engine at a time: the module
fixture is parametrised, and pytest shuts one engine down before starting the next."""
from __future__ import annotations

import json

import pytest

from psybench.backends import create_backend
from psybench.records import GenerationParams, Request

pytestmark = pytest.mark.slow
MAX_MODEL_LEN = 512
N_TOKENS = 24
PROMPTS = ["I have trouble sleeping before exams.", "My sister stopped talking to me.",
           "I feel anxious at work every morning.", "How can I stop worrying so much?",
           "I lost my job last week and I am scared.", "My partner says I never listen.",
           "I keep thinking about a mistake I made.", "Is it normal to feel lonely in a big city?"]


def _requests(prefix: str = "r"):
    return [Request(f"{prefix}{i}", ({"role": "system", "content": "You are a kind counsellor."},
                                     {"role": "user", "content": p})) for i, p in enumerate(PROMPTS)]


def _tiny_llama(folder) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from psybench.assets.chat_models import smollm2_dir

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir())  # has a chat template
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                         initializer_range=0.1, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.float32)  # head_dim 32: vLLM's CPU attention needs >= 32
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module", params=["tiny-llama", "smollm2"])
def engine(request, tmp_path_factory):
    from psybench.assets.chat_models import smollm2_dir

    model = _tiny_llama(tmp_path_factory.mktemp("tiny")) if request.param == "tiny-llama" else str(smollm2_dir())
    backend = create_backend("vllm", model, dtype="float32", enforce_eager=True, max_model_len=MAX_MODEL_LEN,
                             chunk_size=3)
    yield request.param, model, backend
    backend.close()


def test_vllm_equals_transformers_greedy_fp32(engine):
    name, model, backend = engine
    params = GenerationParams(max_tokens=N_TOKENS)
    streamed = []
    vllm_out = backend.generate(_requests(), params, streamed.append)
    hf = create_backend("hf", model, dtype="float32", batch_size=4)
    hf_out = hf.generate(_requests(), params)
    hf.close()
    assert [o.id for o in vllm_out] == [f"r{i}" for i in range(len(PROMPTS))]
    assert sorted(o.id for o in streamed) == sorted(o.id for o in vllm_out)  # streamed in chunks of 3
    assert [o.text for o in vllm_out] == [o.text for o in hf_out], name
    assert [o.completion_tokens for o in vllm_out] == [o.completion_tokens for o in hf_out]
    assert [o.finish_reason for o in vllm_out] == [o.finish_reason for o in hf_out]
    assert [o.prompt_tokens for o in vllm_out] == [o.prompt_tokens for o in hf_out]
    assert all(o.text.strip() for o in vllm_out)


def test_frequency_penalty_same_in_vllm_and_transformers(engine):
    """The hf backend's hand-written frequency penalty follows vLLM's rule: identical greedy text. SmolLM2
    repeats itself within 48 tokens, so the penalty acts; the random tiny Llama's near-tied logits part
    the two engines after about 40 tokens even without a penalty, so it is compared on 24."""
    name, model, backend = engine
    n_tokens = 48 if name == "smollm2" else N_TOKENS
    plain = GenerationParams(max_tokens=n_tokens)
    penalised = GenerationParams(max_tokens=n_tokens, frequency_penalty=1.0)
    vllm_plain = backend.generate(_requests("p"), plain)
    vllm_pen = backend.generate(_requests("f"), penalised)
    hf = create_backend("hf", model, dtype="float32", batch_size=4)
    hf_pen = hf.generate(_requests("f"), penalised)
    hf.close()
    assert [o.text for o in vllm_pen] == [o.text for o in hf_pen], name
    if name == "smollm2":
        assert [o.text for o in vllm_pen] != [o.text for o in vllm_plain]  # the penalty acted


def test_long_history_is_cut_exactly(engine):
    name, model, backend = engine
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    first = {"role": "user", "content": "Instruction and background. Client: hello."}
    history = [{"role": "assistant" if i % 2 == 0 else "user",
                "content": f"turn {i}: " + "I hear that this week felt very heavy for you. " * 6} for i in range(9)]
    messages = [first] + history  # ends with a user turn (i = 8)
    budget = MAX_MODEL_LEN - N_TOKENS

    def n_tokens(msgs):  # rendered text, then tokenized: independent of backends/context.py
        text = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert n_tokens(messages) > budget
    expected = next(k for k in range(0, 9, 2) if n_tokens([first] + history[k:]) <= budget)
    [out] = backend.generate([Request("long", tuple(messages))], GenerationParams(max_tokens=N_TOKENS))
    assert out.history_turns_cut == expected > 0
    assert out.prompt_tokens == n_tokens([first] + history[expected:])
    assert out.finish_reason in ("stop", "length") and out.text


def test_seeded_sampling_is_reproducible_and_fingerprint_stable(engine):
    name, model, backend = engine
    params = GenerationParams(max_tokens=12, temperature=0.9, top_p=0.95, seed=7)
    first = [o.text for o in backend.generate(_requests(), params)]
    second = [o.text for o in backend.generate(list(reversed(_requests())), params)]
    assert first == list(reversed(second))  # per-request seeds: independent of batch order
    assert backend.fingerprint() == backend.fingerprint() and backend.fingerprint().startswith("sha256:")
    info = backend.info()
    assert info["max_model_len"] == MAX_MODEL_LEN and info["dtype"] == "torch.float32"
    assert json.dumps(info)
