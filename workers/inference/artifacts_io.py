"""Save and load the small trained artefacts: LoRA adapter weights, the two heads, calibration."""

from __future__ import annotations

from pathlib import Path

import torch

from workers.inference.model import TriageNet

ARTIFACT_FORMAT = 1
WEIGHTS_FILE = "weights.safetensors"
CALIBRATION_FILE = "calibration.json"
METADATA_FILE = "metadata.json"
SHIPPED_DIR = Path(__file__).resolve().parent / "artifacts"


def save_weights(network: TriageNet, output_dir: Path) -> Path:
    """Write only the adapters and heads (a few MB), never the backbone."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    tensors = {
        f"adapter.{k}": v.detach().cpu().contiguous()
        for k, v in get_peft_model_state_dict(network.encoder).items()
    }
    tensors |= {f"head.{k}": v for k, v in network.head_state().items()}
    path = output_dir / WEIGHTS_FILE
    save_file(tensors, str(path), metadata={"format": str(ARTIFACT_FORMAT)})
    return path


def load_weights_into(network: TriageNet, artifact_dir: Path, *, widen: bool = False) -> None:
    """Load adapters and heads from `artifact_dir` into a network built with the same adapter config.

    `widen` lets a 1.0.0 artefact (two frustration logits, no topic head) seed a 1.1.0 network.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    tensors = load_file(str(artifact_dir / WEIGHTS_FILE))
    adapter = {k.removeprefix("adapter."): v for k, v in tensors.items() if k.startswith("adapter.")}
    heads = {k.removeprefix("head."): v for k, v in tensors.items() if k.startswith("head.")}
    result = set_peft_model_state_dict(network.encoder, adapter)
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise ValueError(f"{artifact_dir}: adapter weights do not fit the network: {unexpected[:3]}")
    network.load_head_state(heads, widen=widen)
    # Keep the heads' dtype aligned with the encoder's after loading.
    torch.nn.Module.float(network)
