"""BERT's encoder forward in plain torch, for inference processes that should not import transformers.

Importing transformers' model classes pulls in torch._dynamo, torch.distributed, sympy, accelerate and
scipy: about 150 MB resident in every worker process, for a forward pass this file writes in a page.
Module and parameter names follow transformers' BertModel, so its state dict, the LoRA merge and the
int8 quantisation apply unchanged. Only what all-MiniLM-L6-v2 uses is supported (absolute positions,
erf GELU, post-layer-norm); `load_bert` refuses any other configuration.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT config.json that the forward pass reads."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        """Read config.json; refuse a model this forward pass would compute wrongly."""
        raw = json.loads(path.read_text())
        unsupported = {
            key: raw.get(key)
            for key, expected in (
                ("model_type", "bert"),
                ("hidden_act", "gelu"),
                ("position_embedding_type", "absolute"),
            )
            if raw.get(key, expected) != expected
        }
        if unsupported:
            raise ValueError(f"{path}: not a plain BERT encoder: {unsupported}")
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__})


class EncoderOutput(NamedTuple):
    """What TriageNet reads from an encoder, as transformers names it."""

    last_hidden_state: torch.Tensor


class _Embeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        summed = (
            self.word_embeddings(input_ids)
            + self.token_type_embeddings.weight[0]
            + self.position_embeddings(positions)[None]
        )
        return self.LayerNorm(summed)


class _SelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)


class _Output(nn.Module):
    def __init__(self, inputs: int, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(inputs, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class _Attention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = _SelfAttention(config)
        self.output = _Output(config.hidden_size, config)


class _Intermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)


class _Layer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = _Attention(config)
        self.intermediate = _Intermediate(config)
        self.output = _Output(config.intermediate_size, config)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        attention = self.attention.self
        batch, tokens, width = hidden.shape
        size = width // attention.heads

        def split(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, tokens, attention.heads, size).transpose(1, 2)

        query, key, value = (split(p(hidden)) for p in (attention.query, attention.key, attention.value))
        mixed = functional.scaled_dot_product_attention(
            query, key, value, attn_mask=bias, scale=1 / math.sqrt(size)
        )
        mixed = mixed.transpose(1, 2).reshape(batch, tokens, width)
        hidden = self.attention.output.LayerNorm(self.attention.output.dense(mixed) + hidden)
        expanded = functional.gelu(self.intermediate.dense(hidden))
        return self.output.LayerNorm(self.output.dense(expanded) + hidden)


class _Encoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(config) for _ in range(config.num_hidden_layers))


class BertEncoder(nn.Module):
    """BERT without its pooler: token ids and attention mask in, last hidden states out."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Return the last layer's token states; padded positions are never attended to."""
        hidden = self.embeddings(input_ids)
        # Additive mask over keys, as transformers builds it: 0 to attend, the dtype's minimum to skip.
        bias = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.encoder.layer:
            hidden = layer(hidden, bias)
        return EncoderOutput(hidden)


def load_bert(model_dir: Path, weights: dict[str, torch.Tensor]) -> BertEncoder:
    """Build the encoder from `model_dir`'s config.json and load `weights` (a verified state dict)."""
    encoder = BertEncoder(BertConfig.from_file(model_dir / "config.json"))
    state = {
        k: v for k, v in weights.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"
    }
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{model_dir}: weights do not fit BERT: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return encoder.eval()
