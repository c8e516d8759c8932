"""Fine-tune LoRA adapters and two heads on MiniLM for frustration and urgency, seeded and reproducible."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from service.domain import TOPICS
from workers.inference.artifacts_io import ARTIFACT_FORMAT, save_weights
from workers.inference.backbone import load_backbone, minilm_spec
from workers.inference.model import (
    ANY_FRUSTRATION,
    FRUSTRATED,
    SEVERE,
    AdapterConfig,
    HeadOutputs,
    HeadSizes,
    TriageNet,
    add_adapters,
)
from workers.training.data import NO_LABEL, Example

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Everything that decides the trained weights; saved with them so a run can be repeated."""

    seed: int = 13
    max_length: int = 64
    batch_size: int = 32
    epochs: float = 1.0
    # Urgency (77 + 27 intents folded onto 4 levels) needs a second pass; None: same as `epochs`.
    urgency_epochs: float | None = 2.0
    # GoEmotions has 43k rows; a seeded subsample keeps the CPU run near half an hour.
    frustration_limit: int | None = 8_000
    urgency_limit: int | None = None
    adapter_lr: float = 1e-3
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    threads: int = 1
    # A topic head (what the ticket is about) learns from the support corpus; 0 leaves it out.
    topic_classes: int = len(TOPICS)
    # Texts per corpus pass; tickets run longer than the public rows, so they get a longer window.
    corpus_max_length: int = 128
    # Batches are length-sorted inside windows of this many batches: far less padding, still shuffled.
    sort_window_batches: int = 50
    adapter: AdapterConfig = field(default_factory=AdapterConfig)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats on the same hardware."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_batches(
    examples: Sequence[Example], batch_size: int, window_batches: int, rng: random.Random
) -> list[list[Example]]:
    """Shuffle, sort by length inside windows to cut padding, and cut into batches."""
    pool = list(examples)
    rng.shuffle(pool)
    window = batch_size * window_batches
    batches: list[list[Example]] = []
    for start in range(0, len(pool), window):
        chunk = sorted(pool[start : start + window], key=lambda e: len(e.text))
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return batches


def epoch_batches(
    examples: Sequence[Example], epochs: float, config: TrainConfig, rng: random.Random
) -> list[list[Example]]:
    """Return the batches of `epochs` passes over the examples; a fractional pass takes a prefix."""
    batches: list[list[Example]] = []
    for _ in range(int(epochs)):
        batches += make_batches(examples, config.batch_size, config.sort_window_batches, rng)
    if (fraction := epochs - int(epochs)) > 0:
        extra = make_batches(examples, config.batch_size, config.sort_window_batches, rng)
        batches += extra[: max(1, int(len(extra) * fraction))]
    return batches


def build_network(
    adapter: AdapterConfig, sizes: HeadSizes | None = None
) -> tuple[TriageNet, PreTrainedTokenizerBase]:
    """Load the verified backbone, add LoRA adapters and fresh heads."""
    encoder, tokenizer = load_backbone(minilm_spec())
    return TriageNet(add_adapters(encoder, adapter), encoder.config.hidden_size, sizes=sizes), tokenizer


def task_loss(outputs: HeadOutputs, batch: Sequence[Example]) -> torch.Tensor:
    """Sum the losses of the labels each example carries; missing labels contribute nothing."""
    frustration_logits = outputs.frustration
    device = frustration_logits.device

    def labels(name: str) -> torch.Tensor:
        return torch.tensor([getattr(e, name) for e in batch], device=device)

    loss = frustration_logits.sum() * 0.0
    bce = nn.functional.binary_cross_entropy_with_logits
    binary = [("frustrated", FRUSTRATED), ("severe", SEVERE)]
    if frustration_logits.shape[1] > ANY_FRUSTRATION:
        binary.append(("any_frustration", ANY_FRUSTRATION))
    for name, column in binary:
        if (has := (target := labels(name)) != NO_LABEL).any():
            loss = loss + bce(frustration_logits[has, column], target[has].float())
    if (has := (urgency := labels("urgency")) != NO_LABEL).any():
        loss = loss + nn.functional.cross_entropy(outputs.urgency[has], urgency[has])
    if outputs.topic.shape[1] and (has := (topic := labels("topic")) != NO_LABEL).any():
        loss = loss + nn.functional.cross_entropy(outputs.topic[has], topic[has])
    return loss


def train(
    config: TrainConfig,
    frustration_train: Sequence[Example],
    urgency_train: Sequence[Example],
    output_dir: Path,
    *,
    init_from: Path | None = None,
    device: str = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
    corpus_train: Sequence[Example] = (),
    corpus_epochs: float = 0.0,
) -> Path:
    """Train adapters and heads, write them to `output_dir`, and return the weights path.

    `init_from` starts from shipped artefacts instead of fresh adapters (customer fine-tuning).
    """
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    network, tokenizer = build_network(config.adapter, HeadSizes(topic=config.topic_classes))
    if init_from is not None:
        from workers.inference.artifacts_io import load_weights_into

        load_weights_into(network, init_from, widen=True)
    network.to(device).train()
    rng = random.Random(config.seed)
    batches = epoch_batches(frustration_train, config.epochs, config, rng)
    urgency_epochs = config.epochs if config.urgency_epochs is None else config.urgency_epochs
    batches += epoch_batches(urgency_train, urgency_epochs, config, rng)
    # Support tickets are longer than the public rows: their batches get the longer window.
    corpus = epoch_batches(corpus_train, corpus_epochs, config, rng) if corpus_train else []
    long_batches = {id(b) for b in corpus}
    batches += corpus
    rng.shuffle(batches)
    adapter_params = [p for n, p in network.encoder.named_parameters() if p.requires_grad]
    head_params = network.head_parameters()
    optimizer = torch.optim.AdamW(
        [
            {"params": adapter_params, "lr": config.adapter_lr},
            {"params": head_params, "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    total = len(batches)
    warmup = max(1, int(total * config.warmup_fraction))

    def schedule(step: int) -> float:
        # Linear warm-up, then linear decay to zero: the usual recipe for short fine-tunes.
        return step / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    started = time.monotonic()
    running = 0.0
    for step, batch in enumerate(batches, start=1):
        encoded = tokenizer(
            [e.text for e in batch],
            padding=True,
            truncation=True,
            max_length=config.corpus_max_length if id(batch) in long_batches else config.max_length,
            return_tensors="pt",
        ).to(device)
        loss = task_loss(network(encoded["input_ids"], encoded["attention_mask"]), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*adapter_params, *head_params], 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if progress is not None:
            progress(step, total, running)
        if step % 50 == 0 or step == total:
            log.info("step %d/%d loss %.4f elapsed %.0fs", step, total, running, time.monotonic() - started)
    network.eval()
    output_dir.mkdir(parents=True, exist_ok=True)
    weights = save_weights(network, output_dir)
    meta = {
        "format": ARTIFACT_FORMAT,
        "train_config": asdict(config),
        "train_examples": {
            "frustration": len(frustration_train),
            "urgency": len(urgency_train),
            "support_corpus": len(corpus_train),
        },
        "train_seconds": round(time.monotonic() - started, 1),
        "steps": total,
        "final_loss": round(running, 4),
    }
    (output_dir / "training.json").write_text(json.dumps(meta, indent=2) + "\n")
    return weights
