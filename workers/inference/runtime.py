"""Batch-first inference: length-sorted batches, dynamic padding, fp16 on GPU, int8 on CPU."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from workers.inference.artifacts_io import METADATA_FILE, SHIPPED_DIR, WEIGHTS_FILE
from workers.inference.backbone import load_backbone, load_plain_backbone, minilm_spec
from workers.inference.model import AdapterConfig, HeadSizes, TriageNet

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

    # In place: a quantised copy would hold a second fp32 encoder at the load's peak (90 MB more).
    return quantize_dynamic(
        encoder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
    )


def release_freed_memory() -> None:
    """Hand memory freed while loading (fp32 weights replaced by int8) back to the OS.

    glibc keeps freed heap pages for reuse; after a load that dropped the fp32 weights that is about
    90 MB of resident memory nobody will use again.
    """
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def load_metadata(artifact_dir: Path) -> dict[str, object]:
    """Read the artefact's metadata.json (version, adapter config, training config)."""
    return json.loads((artifact_dir / METADATA_FILE).read_text())


# peft saves adapter weights under the wrapped model's path: base_model.model.<module>.lora_A.weight.
_ADAPTER_PREFIX = "adapter.base_model.model."
_LORA_A = ".lora_A.weight"


def merge_adapters(encoder: nn.Module, tensors: dict[str, torch.Tensor], config: AdapterConfig) -> int:
    """Fold LoRA weights into the encoder's linear layers in place: W += B @ A * alpha / rank.

    This is peft's `merge_and_unload` for plain LoRA, done by hand so that a worker never imports peft
    (140 MB resident for a merge done once). Returns how many layers were merged.
    """
    modules = dict(encoder.named_modules())
    scaling = config.alpha / config.rank
    merged = 0
    for key, down in tensors.items():
        if not (key.startswith(_ADAPTER_PREFIX) and key.endswith(_LORA_A)):
            continue
        path = key[len(_ADAPTER_PREFIX) : -len(_LORA_A)]
        layer = modules.get(path)
        if not isinstance(layer, nn.Linear):
            raise ValueError(f"adapter weights for {path!r} do not fit the backbone")
        up = tensors[key.removesuffix(_LORA_A) + ".lora_B.weight"]
        with torch.no_grad():
            layer.weight += (up.float() @ down.float()) * scaling
        merged += 1
    return merged


def build_inference_network(
    artifact_dir: Path, *, plain: bool = True
) -> tuple[TriageNet, PreTrainedTokenizerBase]:
    """Load the backbone, fold the adapters into its weights and attach the heads (fp32).

    `plain` builds the encoder in plain torch (workers/inference/bert.py: the same forward pass, bit for
    bit, without importing transformers' model classes); False builds transformers' BertModel, which
    the naive-pipeline benchmark needs.
    """
    from safetensors.torch import load_file

    metadata = load_metadata(artifact_dir)
    adapter_dict = metadata["adapter"]
    assert isinstance(adapter_dict, dict)
    encoder, tokenizer = (load_plain_backbone if plain else load_backbone)(minilm_spec())
    tensors = load_file(str(artifact_dir / WEIGHTS_FILE))
    # Merged LoRA makes inference exactly as cheap as the plain backbone.
    if merge_adapters(encoder, tensors, AdapterConfig(**adapter_dict)) == 0:
        raise ValueError(f"{artifact_dir}: no adapter weights found")
    config: Any = encoder.config  # transformers' config or bert.BertConfig: both name hidden_size
    network = TriageNet(encoder, config.hidden_size, sizes=HeadSizes.from_metadata(metadata))
    network.load_head_state({k.removeprefix("head."): v for k, v in tensors.items() if k.startswith("head.")})
    network.float()
    return network.eval(), tokenizer


@dataclass
class Logits:
    """Raw head outputs for a list of texts, in input order."""

    frustration: np.ndarray  # [N, 3] (frustrated, severe, any frustration); [N, 2] before 1.1.0
    urgency: np.ndarray  # [N, 4]
    topic: np.ndarray  # [N, len(TOPICS)]; [N, 0] for a model without a topic head


def _empty_logits(sizes: HeadSizes, rows: int) -> Logits:
    return Logits(
        np.zeros((rows, sizes.frustration), dtype=np.float32),
        np.zeros((rows, sizes.urgency), dtype=np.float32),
        np.zeros((rows, sizes.topic), dtype=np.float32),
    )


def _span_masks(
    offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]], width: int
) -> np.ndarray:
    """Return [spans, width] 0/1 rows: which tokens fall inside each character span.

    Special tokens have (0, 0) offsets and belong to no span; padding past the text is never marked.
    """
    masks = np.zeros((len(spans), width), dtype=np.float32)
    for token, (begin, end) in enumerate(offsets):
        if end <= begin:
            continue
        for row, (start, stop) in enumerate(spans):
            if begin < stop and end > start:
                masks[row, token] = 1.0
    return masks


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
        runtime = cls(
            network,
            tokenizer,
            device=resolve_device(device),
            precision=precision,
            max_length=max_length,
            max_batch_size=max_batch_size,
        )
        release_freed_memory()
        return runtime

    def logits(self, texts: Sequence[str]) -> Logits:
        """Return head logits for every text, batching by length so padding stays small."""
        return self.logits_and_occlusions(texts)[0]

    def logits_and_occlusions(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None = None
    ) -> tuple[Logits, list[Logits]]:
        """Return every text's logits and, per text, the logits with each of its spans left out.

        The network reads a text as the mean of its token states, then linear heads. Leaving a span's
        tokens out of that mean is the occlusion of the span as the heads see it, with no second
        encoder pass: one forward pass explains every span. `spans` are [start, end) character
        offsets into each text; a span past the truncation covers no token and changes nothing.
        """
        sizes = self.network.sizes
        frustration = np.zeros((len(texts), sizes.frustration), dtype=np.float32)
        urgency = np.zeros((len(texts), sizes.urgency), dtype=np.float32)
        topic = np.zeros((len(texts), sizes.topic), dtype=np.float32)
        occluded: list[Logits] = [_empty_logits(sizes, 0) for _ in texts]
        if not texts:
            return Logits(frustration, urgency, topic), occluded
        want_spans = spans is not None and any(spans)
        encoded = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_offsets_mapping=want_spans,
        )
        ids: list[list[int]] = encoded["input_ids"]
        self.tokens_processed += sum(len(row) for row in ids)
        # Longest first: the biggest batch fails (out of memory) first, not after most of the work.
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), self.max_batch_size):
            chunk = order[start : start + self.max_batch_size]
            batch = self.tokenizer.pad(
                {"input_ids": [ids[i] for i in chunk]}, padding=True, return_tensors="pt"
            )
            if not want_spans:
                frustration[chunk], urgency[chunk], topic[chunk] = self._forward(
                    batch["input_ids"], batch["attention_mask"]
                )
                continue
            assert spans is not None
            masks = [
                _span_masks(encoded["offset_mapping"][i], spans[i], batch["input_ids"].shape[1])
                for i in chunk
            ]
            heads, per_text = self._forward_occluded(batch["input_ids"], batch["attention_mask"], masks)
            frustration[chunk], urgency[chunk], topic[chunk] = heads
            for index, logits in zip(chunk, per_text, strict=True):
                occluded[index] = logits
        return Logits(frustration, urgency, topic), occluded

    def _forward_occluded(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, span_masks: list[np.ndarray]
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], list[Logits]]:
        """Run the encoder once; apply the heads to the full mean and to each span-less mean."""
        input_ids = input_ids.to(self.device, non_blocking=True)
        attention_mask = attention_mask.to(self.device, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            hidden = self.network.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            hidden = hidden.float()
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)  # [B, H]
            counts = mask.sum(dim=1)  # [B, 1]
            full = self.network.heads(summed / counts.clamp(min=1e-6))
            # Every span of every text in one matrix product: [spans, T] x [T, H] per text.
            pooled = []
            owners = []
            for row, spans in enumerate(span_masks):
                if not len(spans):
                    continue
                drop = torch.from_numpy(spans).to(hidden.device, hidden.dtype)  # [S, T]
                kept_sum = summed[row] - drop @ hidden[row]
                kept_count = (counts[row] - drop.sum(dim=1, keepdim=True)).clamp(min=1.0)
                pooled.append(kept_sum / kept_count)
                owners.append((row, len(spans)))
            span_heads = self.network.heads(torch.cat(pooled)) if pooled else None
        heads = tuple(t.float().cpu().numpy() for t in full)
        per_text = [_empty_logits(self.network.sizes, 0) for _ in span_masks]
        if span_heads is not None:
            parts = [t.float().cpu().numpy() for t in span_heads]
            cursor = 0
            for row, count in owners:
                f, u, tp = (part[cursor : cursor + count] for part in parts)
                per_text[row] = Logits(f, u, tp)
                cursor += count
        return (heads[0], heads[1], heads[2]), per_text

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision in ("fp16", "bf16"):
            dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
            return torch.autocast(device_type="cuda", dtype=dtype)
        return contextlib.nullcontext()

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
