"""Every constant psybench shares, in one place: the data release, the authors' strings and
settings, and the paper's published Table 5."""
from __future__ import annotations

LANGS = ("en", "zh")

# ---- The Psy-Insight v7 release (ckqqqq/Psy-Insight @ da55aec) --------------------------------
UPSTREAM_COMMIT = "da55aec6d73f4cd0076fbf5fbb9b6d90673e2790"
UPSTREAM_RAW = f"https://raw.githubusercontent.com/ckqqqq/Psy-Insight/{UPSTREAM_COMMIT}/data"
DATA_FILES = {  # lang -> (file name, sha256)
    "en": ("en_data_version7.json", "ebbbb482ec19973ab45e76df2192fc8fa84958085534cbd72e30f1af3ce33481"),
    "zh": ("cn_data_version7.json", "1cc0f35f928e3f8bbfd281264b0c59933a5d449f003ade2bb736e95533429e14"),
}
RELEASED_TEST_FILE = ("en_test_dataset.jsonl", "2680d4342c6a4fc2b64f0e7cf3690859ce7f48b8524ecd28fc5f0d4b4e2b8a51")
SPLIT_FILES = {"table5": "splits/en_table5_test.json", "released": "splits/en_released_test.json"}

# ---- The authors' prompt strings (PROTOCOL.md) -------------------------------------------------
PAPER_INSTRUCTION = (
    "You are a friendly and professional AI psychotherapist who always provides useful emotional "
    "support. There is a real psychological counseling case. There is a background: {background}"
    " Please generate the response of the dialog. "
)
PAPER_HISTORY_PREFIX = "There is the dialog history: "
PAPER_REASONING_ONLY_INSTRUCTION = "Please analysis the reasoning of this response."
PAPER_OBSERVATION_ONLY_INSTRUCTION = "Please summarize the observations of this response."
THERAPIST_PREFIX = "Therapist: "
REASONING_MARKER = "Reasoning: "
OBSERVATION_MARKER = "Observation: "

# ---- Backends --------------------------------------------------------------------------------
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai backend without --base-url
# A fleet of servers (several --base-url): an endpoint that fails is out for FLEET_COOLDOWN_S, doubled
# with each failure in a row up to FLEET_COOLDOWN_CAP_S, then re-probed (GET /models) before it gets work.
FLEET_COOLDOWN_S = 2.0
FLEET_COOLDOWN_CAP_S = 60.0
FLEET_HEALTH_TIMEOUT_S = 5.0  # a live server lists its models in milliseconds, even while generating
# Every endpoint of a fleet must answer this prompt with the same greedy text (same model, same weights)
FLEET_PROBE_MESSAGES = ({"role": "user", "content": "Name three colours of the rainbow."},)
FLEET_PROBE_MAX_TOKENS = 8

# ---- Decoding --------------------------------------------------------------------------------
DEFAULT_MAX_TOKENS = 256
PAPER_DECODING = {"temperature": 0.7, "top_p": 0.5, "max_tokens": 512}
DEFAULT_SEED = 0

# ---- Extraction statuses (docs/EXTRACTION.md) ------------------------------------------------
# what counts as an extraction failure: no reply could be read as asked. `repeated` (the first of
# several replies was scored) is not one, nor is truncation, a generation fact carried apart.
EXTRACTION_FAILURES = ("no_marker", "empty", "unparseable")

# ---- Executors (psybench.executors): where the engines run --------------------------------------
EXECUTORS = ("local", "ray")  # local: one engine in this process; ray: replicas as Ray actors
RAY_BACKENDS = ("vllm",)  # engines psybench runs itself; a served model scales with more servers instead
RAY_CHUNKS_PER_REPLICA = 4  # a batch is cut into about this many chunks per replica (a fast one takes more)
RAY_MAX_CHUNK = 256  # requests per chunk at most (the vllm backend's own chunk: outputs stream at this step)
RAY_IN_FLIGHT_PER_REPLICA = 2  # chunks queued at a replica, so its engine never waits for the driver
RAY_PLACEMENT_TIMEOUT_S = 300  # waiting for the cluster to reserve every replica's GPUs/CPUs
RAY_CLOSE_TIMEOUT_S = 30  # a replica's engine shut down gracefully, then the actor is killed
RAY_OBJECT_STORE_BYTES = 512 * 1024**2  # a Ray psybench starts itself: prompts and texts only, no tensors

# ---- Scoring ---------------------------------------------------------------------------------
METRIC_MODES = ("corrected", "paper")
# Generation metrics computed when neither --metrics nor a task's `metrics:` names them: Table 5's
# (psybench.metrics.registry; `psybench metrics` lists every registered one, e.g. chrf)
DEFAULT_METRICS = ("bertscore", "bleu", "meteor", "rouge", "distinct")
CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "example_f1")  # the label tasks' YAML `metrics:` names
REFERENCE_CACHE_MAX_BYTES = 2 * 1024**3  # BERTScore reference embeddings kept between runs, at most
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
PAPER_BERTSCORE = {"en": ("roberta-large", 17), "zh": ("bert-base-chinese", 8)}

# ---- The rubric judge (psybench judge; docs/JUDGE.md) --------------------------------------------
JUDGE_DIMENSIONS = ("interactivity", "helpfulness", "comfort", "explainability")  # the paper's Table 6 columns
JUDGE_SCALE = (1, 5)  # every dimension is scored on this integer scale, both ends included
JUDGE_KEY_PREFIX = "judge"  # results keys: judge.helpfulness[JUDGE], judge.ethical_risk_rate[JUDGE]
JUDGE_MAX_ATTEMPTS = 3  # an unreadable judge reply is asked again (with the problem named) at most this often in all
JUDGE_MAX_TOKENS = 384
JUDGE_HISTORY_TURNS = 12  # the judge sees the last turns of the gold history (and is told how many were left out)
JUDGE_REPEAT_TEMPERATURE = 0.7  # --judge-repeats K > 1: each repeat is a seeded sample (repeat 0 stays greedy)
JUDGE_VALIDATE_TURNS = 40  # `psybench judge validate`: test turns drawn (seeded) from the split
JUDGE_TRUNCATE_WORDS = 3  # validate contrast (b): the gold reply cut to its first words (zh: 3 x 4 characters)
JUDGE_GENERIC_REPLY = {"en": "I understand. Can you tell me more?", "zh": "我理解。你能多说一些吗？"}
JUDGE_CHANCE_WARNING = "unfit: it does not prefer the gold reply over another session's reply more often than chance"

# ---- The paper's Table 6 (human evaluation, ChatGLM4-9B ablation; raters' mean scores) ---------
TABLE6_ROWS = {  # model -> (interactivity, helpfulness, comfort, explainability)
    "Human": (3.44, 3.58, 3.78, 3.43),
    "GLM4-9B": (2.90, 2.76, 2.79, 3.21),
    "GLM4-9B reasoning": (3.12, 2.88, 2.85, 3.25),
    "GLM4-9B obs+reasoning": (3.00, 2.62, 2.56, 2.78),
}

# ---- The paper's Table 5 as published --------------------------------------------------------
TABLE5_COLUMNS = ("BERTScore-P", "BLEU-1", "BLEU-3", "METEOR", "ROUGE-L", "Distinct-2")
# row id -> (model, training, task, lang, turns, values); None = not reported
TABLE5_ROWS: dict[str, dict] = {
    "mistral-base": {"model": "Mistral-7B", "training": "Base", "task": "dialog", "lang": "en", "turns": "last",
                     "values": (0.824, 0.101, 0.023, 0.098, 0.097, 0.007)},
    "mistral-sft-dialog": {"model": "Mistral-7B", "training": "SFT dialog", "task": "dialog", "lang": "en",
                           "turns": "last", "values": (0.903, 0.270, 0.119, 0.379, 0.290, 0.007)},
    "mistral-sft-reasoning": {"model": "Mistral-7B", "training": "SFT reasoning+dialog", "task": "reasoning",
                              "lang": "en", "turns": "all", "values": (0.912, 0.266, 0.107, 0.397, 0.278, 0.001)},
    "mistral-sft-observation": {"model": "Mistral-7B", "training": "SFT observation+reasoning",
                                "task": "observation", "lang": "en", "turns": "all",
                                "values": (0.909, 0.256, 0.095, 0.383, 0.270, 0.001)},
    "mistral-sft-mix": {"model": "Mistral-7B", "training": "SFT mix (1,2,3)", "task": "dialog", "lang": "en",
                        "turns": "last", "values": (0.877, 0.250, 0.090, 0.285, 0.247, 0.005)},
    "chatgpt-base": {"model": "ChatGPT", "training": "Base", "task": "dialog", "lang": "en", "turns": "all",
                     "values": (0.861, 0.163, 0.035, 0.193, 0.148, 0.001)},
    "chatgpt-sft-dialog": {"model": "ChatGPT", "training": "SFT dialog", "task": "dialog", "lang": "en",
                           "turns": "all", "values": (0.888, 0.219, 0.071, 0.315, 0.216, 0.001)},
    "chatgpt-sft-reasoning": {"model": "ChatGPT", "training": "SFT reasoning+dialog", "task": "reasoning",
                              "lang": "en", "turns": "all", "values": (0.876, 0.204, 0.057, 0.287, 0.199, 0.001)},
    "chatgpt-sft-observation": {"model": "ChatGPT", "training": "SFT observation+reasoning",
                                "task": "observation", "lang": "en", "turns": "all",
                                "values": (0.876, 0.199, 0.065, 0.282, 0.202, 0.004)},
    "glm4-rag-dialog": {"model": "GLM4-9B", "training": "RAG dialog", "task": "rag_dialog", "lang": "zh",
                        "turns": "all", "values": (0.905, 0.111, 0.025, 0.291, 0.298, None)},
    "glm4-rag-explained": {"model": "GLM4-9B", "training": "RAG dialog+explanation", "task": "rag_explained",
                           "lang": "zh", "turns": "all", "values": (0.912, 0.123, 0.029, 0.281, 0.295, None)},
}
