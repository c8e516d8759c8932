"""Batch-first inference: length-sorted batches, dynamic padding, fp16 on GPU, int8 on CPU."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from workers.inference.artifacts_io import METADATA_FILE, SHIPPED_DIR, load_weights_into
from workers.inference.backbone import load_backbone, minilm_spec
from workers.inference.model import AdapterConfig, HeadSizes, TriageNet, add_adapters

Precision = Literal["auto", "fp32", "fp16", "bf16", "int8"]


def resolve_device(device: str) -> torch.device:
    """Return CUDA when asked for `auto` and present, else the CPU; refuse `cuda` without CUDA."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("TRIAGE_DEVICE=cuda but torch sees no CUDA device")
    return torch.device(device)


def resolve_precision(precision: Precision, device: torch.device) -> Precision:
    """Pick fp16 on GPU and int8 on CPU for `auto`; refuse combinations that would silently be slow."""
    if precision == "auto":
        return "fp16" if device.type == "cuda" else "int8"
    if precision in ("fp16", "bf16") and device.type != "cuda":
        raise ValueError(f"{precision} inference needs CUDA; use int8 or fp32 on the CPU")
    if precision == "int8" and device.type != "cpu":
        raise ValueError("int8 dynamic quantisation runs on the CPU only")
    return precision


def quantize_int8(encoder: nn.Module) -> nn.Module:
    """Quantise the encoder's linear layers to int8, per output channel.

    Per-tensor scales cost MiniLM 0.94 mean embedding cosine; per-channel keeps it near 0.99
    (../shared/reference/performance.md), so only per-channel is offered.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(encoder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def load_metadata(artifact_dir: Path) -> dict[str, object]:
    """Read the artefact's metadata.json (version, adapter config, training config)."""
    return json.loads((artifact_dir / METADATA_FILE).read_text())


def build_inference_network(artifact_dir: Path) -> tuple[TriageNet, PreTrainedTokenizerBase]:
    """Load backbone plus adapters and heads, and fold the adapters into the weights (fp32)."""
    metadata = load_metadata(artifact_dir)
    adapter_dict = metadata["adapter"]
    assert isinstance(adapter_dict, dict)
    encoder, tokenizer = load_backbone(minilm_spec())
    hidden_size = encoder.config.hidden_size
    peft_encoder = add_adapters(encoder, AdapterConfig(**adapter_dict))
    network = TriageNet(peft_encoder, hidden_size, sizes=HeadSizes.from_metadata(metadata))
    load_weights_into(network, artifact_dir)
    # Merging LoRA into the dense weights makes inference exactly as cheap as the plain backbone.
    network.encoder = peft_encoder.merge_and_unload()
    return network.eval(), tokenizer


@dataclass
class Logits:
    """Raw head outputs for a list of texts, in input order."""

    frustration: np.ndarray  # [N, 3] (frustrated, severe, any frustration); [N, 2] before 1.1.0
    urgency: np.ndarray  # [N, 4]
    topic: np.ndarray  # [N, len(TOPICS)]; [N, 0] for a model without a topic head


class InferenceRuntime:
    """Runs the triage network over many texts at once; load it once per worker process."""

    def __init__(
        self,
        network: TriageNet,
        tokenizer: PreTrainedTokenizerBase,
        *,
        device: torch.device,
        precision: Precision,
        max_length: int = 128,
        max_batch_size: int = 32,
    ) -> None:
        self.tokenizer = tokenizer
        self.device = device
        self.precision = resolve_precision(precision, device)
        self.max_length = max_length
        self.max_batch_size = max_batch_size
        # Tokens (padding excluded) this runtime has encoded, for the tokens-per-batch metric.
        self.tokens_processed = 0
        if self.precision == "int8":
            network.encoder = quantize_int8(network.encoder)
        self.network = network.to(device).eval()

    @classmethod
    def load(
        cls,
        artifact_dir: Path = SHIPPED_DIR,
        *,
        device: str = "auto",
        precision: Precision = "auto",
        threads: int | None = None,
        max_length: int = 128,
        max_batch_size: int = 32,
    ) -> InferenceRuntime:
        """Build the runtime from artefacts; sets torch's thread count for this process first."""
        # Rust-side tokenizer threads were slower here and warn after a fork (performance.md).
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if threads is not None:
            torch.set_num_threads(threads)
        network, tokenizer = build_inference_network(artifact_dir)
        return cls(
            network,
            tokenizer,
            device=resolve_device(device),
            precision=precision,
            max_length=max_length,
            max_batch_size=max_batch_size,
        )

    def logits(self, texts: Sequence[str]) -> Logits:
        """Return head logits for every text, batching by length so padding stays small."""
        sizes = self.network.sizes
        frustration = np.zeros((len(texts), sizes.frustration), dtype=np.float32)
        urgency = np.zeros((len(texts), sizes.urgency), dtype=np.float32)
        topic = np.zeros((len(texts), sizes.topic), dtype=np.float32)
        if not texts:
            return Logits(frustration, urgency, topic)
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False)
        ids: list[list[int]] = encoded["input_ids"]
        self.tokens_processed += sum(len(row) for row in ids)
        # Longest first: the biggest batch fails (out of memory) first, not after most of the work.
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), self.max_batch_size):
            chunk = order[start : start + self.max_batch_size]
            batch = self.tokenizer.pad(
                {"input_ids": [ids[i] for i in chunk]}, padding=True, return_tensors="pt"
            )
            frustration[chunk], urgency[chunk], topic[chunk] = self._forward(
                batch["input_ids"], batch["attention_mask"]
            )
        return Logits(frustration, urgency, topic)

    def _forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        input_ids = input_ids.to(self.device, non_blocking=True)
        attention_mask = attention_mask.to(self.device, non_blocking=True)
        with torch.inference_mode():
            if self.precision in ("fp16", "bf16"):
                dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
                with torch.autocast(device_type="cuda", dtype=dtype):
                    outputs = self.network(input_ids, attention_mask)
            else:
                outputs = self.network(input_ids, attention_mask)
        frustration, urgency, topic = (t.float().cpu().numpy() for t in outputs)
        return frustration, urgency, topic
