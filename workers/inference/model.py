"""The triage network: a LoRA-adapted MiniLM encoder, mean pooling, frustration, urgency and topic heads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

if TYPE_CHECKING:
    from peft import PeftModel

# The frustration head is ordinal: "frustrated" (moderate or worse, the score the product reports),
# "severe" (anger, abuse, threats) and, from 1.1.0 on, "mild or worse" (any annoyance at all).
# Artefacts before 1.1.0 have only the first two, and no topic head.
FRUSTRATED, SEVERE, ANY_FRUSTRATION = 0, 1, 2
FRUSTRATION_OUTPUTS = 3
URGENCY_CLASSES = 4
HEADS = ("frustration_head", "urgency_head", "topic_head")


class HeadOutputs(NamedTuple):
    """Raw logits of every head for one batch; `topic` has zero columns when the model has no topic head."""

    frustration: torch.Tensor
    urgency: torch.Tensor
    topic: torch.Tensor


@dataclass
class AdapterConfig:
    """LoRA settings; saved with the heads so the artefact rebuilds the same network."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    # "dense" covers the attention output and both feed-forward projections of every BERT layer.
    target_modules: list[str] = field(default_factory=lambda: ["query", "key", "value", "dense"])

    def to_dict(self) -> dict[str, object]:
        """Return the config as plain JSON-able values."""
        return asdict(self)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average token states over real tokens, as all-MiniLM-L6-v2 was trained to be read."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-6)


@dataclass(frozen=True)
class HeadSizes:
    """How many logits each head emits; saved in the metadata so the artefact rebuilds the same network."""

    frustration: int = FRUSTRATION_OUTPUTS
    urgency: int = URGENCY_CLASSES
    topic: int = 0

    @classmethod
    def from_metadata(cls, metadata: dict[str, object]) -> HeadSizes:
        """Read the sizes from metadata.json; artefacts before 1.1.0 say nothing and had 2 + 4 logits."""
        heads = metadata.get("heads")
        if not isinstance(heads, dict):
            return cls(frustration=2, urgency=URGENCY_CLASSES, topic=0)
        return cls(**{k: int(v) for k, v in heads.items()})


class TriageNet(nn.Module):
    """Encoder plus linear heads; one forward pass yields every score's logits."""

    def __init__(
        self,
        encoder: nn.Module,
        hidden_size: int,
        head_dropout: float = 0.1,
        sizes: HeadSizes | None = None,
    ) -> None:
        super().__init__()
        sizes = sizes or HeadSizes()
        self.sizes = sizes
        self.encoder = encoder
        self.dropout = nn.Dropout(head_dropout)
        self.frustration_head = nn.Linear(hidden_size, sizes.frustration)
        self.urgency_head = nn.Linear(hidden_size, sizes.urgency)
        self.topic_head = nn.Linear(hidden_size, sizes.topic) if sizes.topic else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> HeadOutputs:
        """Return the logits of every head for the batch."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.heads(self.dropout(mean_pool(hidden, attention_mask)))

    def heads(self, pooled: torch.Tensor) -> HeadOutputs:
        """Apply every head to pooled sentence vectors."""
        topic = self.topic_head(pooled) if self.topic_head is not None else pooled[:, :0]
        return HeadOutputs(self.frustration_head(pooled), self.urgency_head(pooled), topic)

    def _head_modules(self) -> list[tuple[str, nn.Module]]:
        return [(name, module) for name in HEADS if (module := getattr(self, name)) is not None]

    def head_parameters(self) -> list[nn.Parameter]:
        """Return every head's parameters (the only non-adapter parameters that train)."""
        return [p for _, module in self._head_modules() for p in module.parameters()]

    def head_state(self) -> dict[str, torch.Tensor]:
        """Return the heads' weights."""
        return {
            f"{name}.{key}": value.detach().cpu().contiguous()
            for name, module in self._head_modules()
            for key, value in module.state_dict().items()
        }

    def load_head_state(self, state: dict[str, torch.Tensor], *, widen: bool = False) -> None:
        """Load weights produced by head_state.

        With `widen`, a 1.0.0 frustration head (2 logits) seeds the ordinal head: its "frustrated" row
        starts both the "frustrated" and the "any frustration" rows, and a missing topic head stays fresh.
        """
        for name, module in self._head_modules():
            prefix = f"{name}."
            weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            if not weights and widen:
                continue
            current = module.state_dict()
            if widen and weights["weight"].shape[0] < current["weight"].shape[0]:
                rows = weights["weight"].shape[0]
                for key in ("weight", "bias"):
                    grown = current[key].clone()
                    grown[:rows] = weights[key]
                    grown[rows:] = weights[key][FRUSTRATED]
                    weights[key] = grown
            module.load_state_dict(weights)


def add_adapters(encoder: nn.Module, config: AdapterConfig) -> PeftModel:
    """Wrap the encoder with LoRA adapters; only the adapters train, the backbone stays frozen."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        bias="none",
    )
    return get_peft_model(encoder, lora)
