"""transformers `generate`: batched with left padding, the model's chat template, greedy or
sampling. For users without vLLM, and the reference the vLLM backend is checked against."""
from __future__ import annotations

import os
from collections.abc import Sequence

from psybench.backends.base import OnOutput
from psybench.backends.options import BackendOption
from psybench.backends.common import is_greedy, request_seed
from psybench.backends.context import chat_token_counter, fit_messages
from psybench.backends.fingerprint import model_fingerprint
from psybench.errors import BackendError
from psybench.records import GenerationParams, Output, Request

DEFAULT_BATCH_SIZE = 8


class HFBackend:
    name = "hf"
    prompt_determined = True
    structured_output = False  # GenerationParams.json_schema is not enforced: answers are parsed as free text
    OPTIONS = (
        BackendOption("dtype", str, "auto", "weights' dtype (auto, float32, bfloat16, float16)"),
        BackendOption("device", str, None, "hf: torch device (default: cuda when available, else cpu)", cli=False),
        BackendOption("batch_size", int, DEFAULT_BATCH_SIZE, "hf: prompts per generate call", cli=False),
        BackendOption("max_model_len", int, None, "context length (prompt + output); history is cut to fit"),
        BackendOption("lora", str, None, "LoRA adapter directory (PEFT)"),
    )

    def __init__(self, model: str | os.PathLike, *, dtype: str = "auto", device: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_model_len: int | None = None,
                 lora: str | os.PathLike | None = None) -> None:
        from psybench.preflight import check_model_name

        check_model_name(model)  # before loading: transformers would take a missing folder for a hub id
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name = str(model)
        self.lora = str(lora) if lora else None
        self.batch_size = max(1, int(batch_size))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, {"float": "float32", "half": "float16"}
                                                              .get(dtype, dtype))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_name, padding_side="left")
            self.model = AutoModelForCausalLM.from_pretrained(self.model_name, dtype=torch_dtype).to(self.device)
            if self.lora:
                from peft import PeftModel

                self.model = PeftModel.from_pretrained(self.model, self.lora)
        except (OSError, ValueError, ImportError) as err:
            raise BackendError(f"transformers could not load model {self.model_name}: "
                               f"{str(err).splitlines()[0]}") from err
        self.model.eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        config_len = getattr(self.model.config, "max_position_embeddings", None) or 4096
        self.max_model_len = int(max_model_len or config_len)
        self._count = chat_token_counter(self.tokenizer)
        self._fingerprint: str | None = None

    @staticmethod
    def offline_fingerprint(model: str | os.PathLike, lora: str | os.PathLike | None = None) -> str:
        """fingerprint() from the model's files, without loading the model."""
        return model_fingerprint(model, lora)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self.offline_fingerprint(self.model_name, self.lora)
        return self._fingerprint

    def info(self) -> dict:
        import torch
        import transformers

        return {"backend": self.name, "model": self.model_name, "lora": self.lora, "engine": "transformers",
                "transformers_version": transformers.__version__, "torch_version": torch.__version__,
                "max_model_len": self.max_model_len, "dtype": str(self.model.dtype), "device": self.device,
                "batch_size": self.batch_size}

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        import torch

        budget = self.max_model_len - params.max_tokens
        results: list[Output] = []
        fitted = [fit_messages(r.messages, self._count, budget) for r in requests]
        fits = []
        for index, (_, cut, n_tokens) in enumerate(fitted):
            if n_tokens > budget:  # even instruction + last message are too long: report, don't crash
                output = Output(requests[index].id, "", "error", prompt_tokens=n_tokens, history_turns_cut=cut)
                results.append(output)
                if on_output:
                    on_output(output)
            else:
                fits.append(index)
        for start in range(0, len(fits), self.batch_size):
            batch = fits[start:start + self.batch_size]
            prompts = [self.tokenizer.apply_chat_template(list(fitted[i][0]), add_generation_prompt=True,
                                                          tokenize=False) for i in batch]
            # the chat template already holds BOS where the model wants one
            enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            kwargs = dict(max_new_tokens=params.max_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if params.repetition_penalty != 1.0:
                kwargs["repetition_penalty"] = params.repetition_penalty
            if params.frequency_penalty != 0.0:
                kwargs["logits_processor"] = [frequency_penalty(params.frequency_penalty, enc["input_ids"].shape[1])]
            if is_greedy(params):
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            else:
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=None)
                seed = request_seed(params, requests[batch[0]].id)
                if seed is not None:  # HF has no per-request seeds: seed per batch
                    torch.manual_seed(seed)
            with torch.inference_mode():
                generated = self.model.generate(**enc, **kwargs)
            width = enc["input_ids"].shape[1]
            for row, index in enumerate(batch):
                new = generated[row, width:].tolist()
                eos = self._eos_ids()
                finish = "length"
                for position, token in enumerate(new):
                    if token in eos:
                        new, finish = new[:position], "stop"
                        break
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                if finish == "length" and params.stop:
                    for stop in params.stop:
                        if stop in text:
                            text, finish = text[:text.index(stop)], "stop"
                output = Output(requests[index].id, text, finish, prompt_tokens=fitted[index][2],
                                completion_tokens=len(new), history_turns_cut=fitted[index][1])
                results.append(output)
                if on_output:
                    on_output(output)
        order = {r.id: i for i, r in enumerate(requests)}
        return sorted(results, key=lambda o: order[o.id])

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def close(self) -> None:
        self.model = None


def frequency_penalty(penalty: float, prompt_width: int):
    """A transformers logits processor with OpenAI's (and vLLM's) frequency penalty, which transformers
    lacks: each token's logit drops by penalty x its count among the generated tokens (those after
    `prompt_width`, the padded prompt), so the prompt is never penalised."""
    import torch
    from transformers import LogitsProcessor

    class FrequencyPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            generated = input_ids[:, prompt_width:]
            if generated.shape[1] == 0:
                return scores
            counts = torch.zeros_like(scores).scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
            return scores - penalty * counts

    return FrequencyPenalty()
