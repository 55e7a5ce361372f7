#!/usr/bin/env bash
# First GPU numbers (issue 13, item 6), on one GPU in < 8 minutes, nothing downloaded: full-size
# models with random weights built from the real architectures, through the shipped adapters.
#
#   bench/gpu_suite.sh            # on a GPU machine
#   bench/gpu_suite.sh --dry-run  # on a CPU: the same scripts and code paths on tiny models
#
# Measures (each prints its ratio and peak GPU memory):
#   1. Qwen2.5-VL-7B understanding, bf16, batch 1 vs the card's batch, MMStar-format rows at 512 px
#      (bench/bench_vlm_batching.py --full-size); goal >= 5x a batch-1 loop
#   2. GenEval scoring: the Mask2Former detector at full size + CLIP ViT-L-14, batched vs per image
#      (bench/bench_geneval_scoring.py --detector full); goal >= 4x
# Not yet covered: Ming-Lite-Uni understanding and text-to-image, Janus-Pro-7B text-to-image.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MING_EVAL_OFFLINE=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
CACHE="$(mktemp -d)"
export MING_EVAL_CACHE="$CACHE"
trap 'rm -rf "$CACHE"' EXIT

if [[ "${1:-}" == "--dry-run" ]]; then
  VLM=(--n 4 --new-tokens 2 --batch 2 --image-size 64 --device cpu)
  GENEVAL=(--detector tiny --clip tiny --device cpu --prompts 2 --images-per-prompt 2 --size 64 --batch 2 --clip-batch 4)
  LIMIT=300
else
  VLM=(--full-size --device cuda --n 64 --new-tokens 16 --image-size 512 --threads 8)
  GENEVAL=(--detector full --clip vit-l-14 --device cuda --prompts 16 --images-per-prompt 4 --size 512 --batch 8 --clip-batch 64)
  LIMIT=240
fi

start=$SECONDS
echo "== 1. Qwen2.5-VL understanding: batch 1 vs the card's batch"
timeout "$LIMIT" python bench/bench_vlm_batching.py "${VLM[@]}" 2>&1 | grep -v -e "Loading weights" -e "Writing model" || echo "(item 1 failed or timed out)"
echo "== 2. GenEval scoring: detector + CLIP, batched vs per image"
timeout "$LIMIT" python bench/bench_geneval_scoring.py "${GENEVAL[@]}" || echo "(item 2 failed or timed out)"
echo "== total $((SECONDS - start)) s"
