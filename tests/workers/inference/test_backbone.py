"""The backbone loads only when its weights are byte-identical to the audited release."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workers.inference.backbone import (
    MINILM_SAFETENSORS_SHA256,
    BackboneIntegrityError,
    BackboneSpec,
    file_sha256,
    load_backbone,
    minilm_spec,
)


def _copy_with(tmp_path: Path, weights: bytes) -> BackboneSpec:
    source = minilm_spec().path
    target = tmp_path / "model"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    (target / "model.safetensors").write_bytes(weights)
    return BackboneSpec(name="copy", path=target, weights_sha256=MINILM_SAFETENSORS_SHA256)


def test_installed_weights_match_the_pinned_digest() -> None:
    assert file_sha256(minilm_spec().weights_file) == MINILM_SAFETENSORS_SHA256


@pytest.mark.slow
def test_one_flipped_byte_refuses_to_load(tmp_path: Path) -> None:
    weights = bytearray(minilm_spec().weights_file.read_bytes())
    weights[len(weights) // 2] ^= 0x01
    with pytest.raises(BackboneIntegrityError, match="expected 53aa5117"):
        load_backbone(_copy_with(tmp_path, bytes(weights)))


def test_missing_weights_refuse_to_load(tmp_path: Path) -> None:
    spec = BackboneSpec(name="gone", path=tmp_path, weights_sha256=MINILM_SAFETENSORS_SHA256)
    with pytest.raises(BackboneIntegrityError, match="missing"):
        load_backbone(spec)
