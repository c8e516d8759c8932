"""`triage bench int8`: the CPU int8 runtimes side by side, speed and agreement with fp32 decisions.

torch.ao dynamic quantisation is deprecated; ONNX Runtime's dynamic int8 quantisation is the
maintained alternative measured here (QUInt8 weights, per channel, graph optimisations on). Both run
the same merged network on the same texts, one thread, length-sorted batches, paths interleaved.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from workers.inference.artifacts_io import CALIBRATION_FILE, SHIPPED_DIR


def run_int8_comparison(
    data_dir: Path | None,
    *,
    count: int = 256,
    agreement_texts: int = 1000,
    log: Callable[[str], None] = print,
) -> str:
    """Return texts/s at batch 8 and 1 of torch and ONNX Runtime fp32/int8, and int8 agreement with fp32."""
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from workers.inference.benchmark import bench_texts
    from workers.inference.calibration import Calibration
    from workers.inference.runtime import InferenceRuntime, build_inference_network

    torch.set_num_threads(1)
    network, tokenizer = build_inference_network(SHIPPED_DIR)
    scratch = Path(tempfile.mkdtemp(prefix="triage-int8-"))

    class Heads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = copy.deepcopy(network)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            outputs = self.network(input_ids, attention_mask)
            return outputs.frustration, outputs.urgency

    sample = tokenizer(["an example ticket"], return_tensors="pt")
    axes = {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}, "frustration": {0: "b"}}
    torch.onnx.export(
        Heads().eval(),
        (sample["input_ids"], sample["attention_mask"]),
        str(scratch / "fp32.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=["frustration", "urgency"],
        dynamic_axes={**axes, "urgency": {0: "b"}},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(
        str(scratch / "fp32.onnx"), str(scratch / "int8.onnx"), weight_type=QuantType.QUInt8, per_channel=True
    )

    def session(name: str) -> onnxruntime.InferenceSession:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(str(scratch / name), options, providers=["CPUExecutionProvider"])

    def ort(run: onnxruntime.InferenceSession, batch_size: int) -> Callable[[Sequence[str]], np.ndarray]:
        def logits(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            ids = tokenizer(list(texts), truncation=True, max_length=128)["input_ids"]
            order = sorted(range(len(texts)), key=lambda i: len(ids[i]), reverse=True)
            frustration = np.zeros((len(texts), network.sizes.frustration), np.float32)
            urgency = np.zeros((len(texts), network.sizes.urgency), np.float32)
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="np")
                frustration[chunk], urgency[chunk] = run.run(
                    None,
                    {
                        "input_ids": batch["input_ids"].astype(np.int64),
                        "attention_mask": batch["attention_mask"].astype(np.int64),
                    },
                )
            return frustration, urgency

        return logits  # type: ignore[return-value]

    def torch_path(precision: str, batch_size: int) -> Callable[[Sequence[str]], object]:
        runtime = InferenceRuntime(
            copy.deepcopy(network),
            tokenizer,
            device=torch.device("cpu"),
            precision=precision,  # type: ignore[arg-type]
            max_batch_size=batch_size,
        )

        def logits(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            found = runtime.logits(texts)
            return found.frustration, found.urgency

        return logits

    fp32_session, int8_session = session("fp32.onnx"), session("int8.onnx")
    texts = bench_texts(count, data_dir)
    lines = [f"{count} ticket-like texts, max_length 128, one thread, paths interleaved"]
    reference = torch_path("fp32", 32)
    for batch_size in (8, 1):
        paths = {
            "torch fp32": torch_path("fp32", batch_size),
            "torch int8 (torch.ao dynamic, per channel)": torch_path("int8", batch_size),
            "ONNX Runtime fp32": ort(fp32_session, batch_size),
            "ONNX Runtime int8 (QUInt8, per channel)": ort(int8_session, batch_size),
        }
        seconds = dict.fromkeys(paths, 0.0)
        for run in paths.values():
            run(texts[:4])
        step = 64 if batch_size > 1 else 1
        for start in range(0, len(texts), 64):
            for name, run in paths.items():
                started = time.perf_counter()
                for offset in range(start, min(start + 64, len(texts)), step):
                    run(texts[offset : offset + step])
                seconds[name] += time.perf_counter() - started
        base = len(texts) / seconds["torch fp32"]
        for name, spent in seconds.items():
            rate = len(texts) / spent
            lines.append(f"batch {batch_size}  {name:<44}{rate:7.1f} texts/s {rate / base:5.2f}x")
        log(f"batch {batch_size} measured")
    if data_dir is not None and data_dir.is_dir():
        from workers.training.data import load_splits

        splits = load_splits(data_dir)
        frustration_texts = [e.text for e in splits.frustration_dev][-agreement_texts:]
        urgency_texts = [e.text for e in splits.urgency_dev][-agreement_texts:]
        fp32_calibration = Calibration.load(SHIPPED_DIR / CALIBRATION_FILE, "fp32")
        int8_calibration = Calibration.load(SHIPPED_DIR / CALIBRATION_FILE, "int8")

        def decisions(
            run: Callable[[Sequence[str]], object], calibration: Calibration
        ) -> tuple[np.ndarray, ...]:
            frustration = run(frustration_texts)[0]  # type: ignore[index]
            urgency = run(urgency_texts)[1]  # type: ignore[index]
            frustrated = calibration.frustration(frustration)[0] >= calibration.frustration_threshold
            return frustrated, calibration.urgency(urgency).argmax(axis=1)

        truth = decisions(reference, fp32_calibration)
        for name, run in (
            ("torch int8", torch_path("int8", 32)),
            ("ONNX Runtime int8", ort(int8_session, 32)),
        ):
            frustrated, urgency = decisions(run, int8_calibration)
            lines.append(
                f"{name:<18} agreement with fp32: frustrated decision {np.mean(frustrated == truth[0]):.4f}, "
                f"urgency top level {np.mean(urgency == truth[1]):.4f} "
                f"(n={len(frustration_texts)}+{len(urgency_texts)} report texts)"
            )
    return "\n".join(lines)
