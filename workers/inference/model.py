"""The triage network: a LoRA-adapted MiniLM encoder, mean pooling, a frustration and an urgency head."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from peft import PeftModel

# The frustration head emits two logits: "frustrated at all" and "severe" (anger, abuse, threats).
FRUSTRATED, SEVERE = 0, 1
URGENCY_CLASSES = 4


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


class TriageNet(nn.Module):
    """Encoder plus two linear heads; one forward pass yields both scores' logits."""

    def __init__(self, encoder: nn.Module, hidden_size: int, head_dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(head_dropout)
        self.frustration_head = nn.Linear(hidden_size, 2)
        self.urgency_head = nn.Linear(hidden_size, URGENCY_CLASSES)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (frustration logits [B, 2], urgency logits [B, 4])."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = self.dropout(mean_pool(hidden, attention_mask))
        return self.frustration_head(pooled), self.urgency_head(pooled)

    def head_state(self) -> dict[str, torch.Tensor]:
        """Return the two heads' weights (the only non-adapter parameters that train)."""
        return {
            f"{name}.{key}": value.detach().cpu().contiguous()
            for name in ("frustration_head", "urgency_head")
            for key, value in getattr(self, name).state_dict().items()
        }

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load weights produced by head_state."""
        for name in ("frustration_head", "urgency_head"):
            prefix = f"{name}."
            getattr(self, name).load_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )


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
