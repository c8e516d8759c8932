#!/usr/bin/env bash
# One prepared GPU run: CUDA tests, then the GPU throughput benchmark. Run from the repository root on a
# machine with CUDA and the ml extra installed; results go to ${OUT:-gpu-results}/.
set -euo pipefail
out="${OUT:-gpu-results}"
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA'; print(torch.__version__, torch.version.cuda)" | tee -a "$out/gpu.txt"
timeout 300 python -m pytest tests/gpu -q -m gpu -p no:cacheprovider 2>&1 | tee "$out/tests.txt"
timeout 240 python - <<'PY' 2>&1 | tee "$out/bench.txt"
from workers.inference.benchmark import format_results, run_gpu_benchmark
from workers.training.data import DEFAULT_DATA_DIR
results = run_gpu_benchmark(data_dir=DEFAULT_DATA_DIR if DEFAULT_DATA_DIR.is_dir() else None)
print(format_results(results, threads=0))
PY
# Batching across tickets (workers/inference/batching.py): one-ticket callers gathered into shared passes.
timeout 120 python - <<'PY' 2>&1 | tee "$out/gathering.txt"
from workers.bench.gathering import run_gpu_gathering
from workers.training.data import DEFAULT_DATA_DIR
print(run_gpu_gathering(DEFAULT_DATA_DIR if DEFAULT_DATA_DIR.is_dir() else None).table())
PY
