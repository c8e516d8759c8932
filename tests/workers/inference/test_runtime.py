"""The inference network: adapters folded in by hand, exactly as peft would, without importing peft."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from workers.inference.artifacts_io import SHIPPED_DIR, load_weights_into
from workers.inference.backbone import load_backbone, minilm_spec
from workers.inference.model import AdapterConfig, HeadSizes, TriageNet, add_adapters
from workers.inference.runtime import build_inference_network, load_metadata, merge_adapters

pytestmark = pytest.mark.model


def test_the_hand_merge_equals_peft_merge_and_unload():
    network, _ = build_inference_network(SHIPPED_DIR)
    metadata = load_metadata(SHIPPED_DIR)
    encoder, _ = load_backbone(minilm_spec())
    wrapped = add_adapters(encoder, AdapterConfig(**metadata["adapter"]))  # type: ignore[arg-type]
    reference = TriageNet(wrapped, encoder.config.hidden_size, sizes=HeadSizes.from_metadata(metadata))
    load_weights_into(reference, SHIPPED_DIR)
    reference.encoder = wrapped.merge_and_unload()

    ours, theirs = network.state_dict(), reference.eval().state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)


def test_the_plain_torch_encoder_computes_transformers_bert_bit_for_bit():
    from workers.inference.backbone import load_plain_backbone

    reference, tokenizer = load_backbone(minilm_spec())
    plain, _ = load_plain_backbone(minilm_spec())
    batch = tokenizer(
        ["Where is my parcel?", "I was charged twice and nobody answers my mails. " * 8],
        padding=True,
        truncation=True,
        max_length=128,
        return_tensors="pt",
    )
    with torch.inference_mode():
        ours = plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        theirs = reference(**batch).last_hidden_state
    real = batch["attention_mask"].bool()
    assert torch.equal(ours[real], theirs[real])


def test_adapters_for_a_layer_the_backbone_lacks_are_refused():
    linear = torch.nn.Sequential(torch.nn.Linear(4, 4))
    down, up = torch.ones(2, 4), torch.ones(4, 2)
    tensors = {
        "adapter.base_model.model.missing.lora_A.weight": down,
        "adapter.base_model.model.missing.lora_B.weight": up,
    }
    with pytest.raises(ValueError, match="missing"):
        merge_adapters(linear, tensors, AdapterConfig(rank=2, alpha=4))


def test_a_warm_worker_process_has_not_imported_peft_lingua_or_transformers_models():
    # lingua's models held 700 MB of every inference process, transformers' model classes 150 MB,
    # scipy.optimize (only tenant fitting needs it) 49 MB.
    script = (
        "import sys\n"
        "import workers.pipeline\n"
        "from workers import resources\n"
        "resources.warm_up(); resources.classifier().predict(['Where is my parcel? It is late again.'])\n"
        "heavy = ('peft', 'lingua', 'transformers.modeling_utils', 'torch._dynamo', 'sympy', 'scipy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_leaving_a_span_out_equals_scoring_the_other_tokens_mean():
    from workers.inference.runtime import InferenceRuntime

    runtime = InferenceRuntime.load(SHIPPED_DIR, device="cpu", precision="fp32", threads=1)
    text = "Where is my parcel? This is ridiculous, I want my money back now!"
    split = text.index("This")
    full, [occluded] = runtime.logits_and_occlusions([text], [[(0, split - 1), (split, len(text))]])

    encoded = runtime.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = runtime.network.encoder(
            input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
        ).last_hidden_state[0]
        ends = encoded["offset_mapping"][0][:, 1]
        starts = encoded["offset_mapping"][0][:, 0]
        second = (starts >= split) & (ends > starts)
        reference = runtime.network.heads(hidden[~second].mean(dim=0, keepdim=True))

    assert torch.allclose(torch.from_numpy(occluded.frustration[1]), reference.frustration[0], atol=1e-4)
    assert torch.allclose(torch.from_numpy(occluded.urgency[1]), reference.urgency[0], atol=1e-4)
    assert np.allclose(full.frustration, runtime.logits([text]).frustration, atol=1e-5)


def test_pooled_evidence_costs_no_extra_encoder_pass():
    from workers.inference.transformer import TransformerClassifier

    texts = [
        "I was charged twice. Nobody answers my mails. This is the last time I buy from you!",
        "Our dashboard is down since 9am. Customers cannot log in. Please call me back.",
    ]
    calls = {"pooled": 0, "occlusion": 0}
    for method in calls:
        classifier = TransformerClassifier(SHIPPED_DIR, device="cpu", evidence="all", evidence_method=method)
        classifier.load()

        def count(*_: object, method: str = method) -> None:
            calls[method] += 1

        classifier.runtime.network.encoder.register_forward_hook(count)
        scored = classifier.predict(texts)
        assert scored[0].urgency and scored[0].urgency.evidence

    assert calls == {"pooled": 1, "occlusion": 2}
