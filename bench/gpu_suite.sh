#!/usr/bin/env bash
# First GPU numbers (issue 13, item 6), on one GPU in < 8 minutes, nothing downloaded: full-size
# models with random weights built from the real architectures, through the shipped adapters and cards.
#
#   bench/gpu_suite.sh            # on a GPU machine
#   bench/gpu_suite.sh --dry-run  # on a CPU: the same scripts and code paths on tiny models, and the
#                                 # full-size configs built without weights (parameter counts)
#
# Measures (each prints its ratio and peak GPU memory); seconds are each part's budget (a part stops
# at its budget or when the suite's 470 s are spent, and says so):
#   1. Qwen2.5-VL-7B understanding, bf16, batch 1 vs the card's batch, MMStar-format rows at 512 px,
#      end to end through the runner (bench/bench_vlm_batching.py --full-size); goal >= 5x      110 s
#   2. Ming-Lite-Uni (Qwen2.5-7B + ViT + connector + SANA 1.6B), bf16: understanding batch 1 vs the
#      card's batch on MMStar-like requests at 512 px, and text-to-image at 512 px batched vs one
#      image per call, 10 sampling steps (the card: 30) (bench/bench_unified_models.py)           150 s
#   3. Janus-Pro-7B text-to-image at 384 px (576 image tokens, cfg 5) batched vs one image per call
#      (bench/bench_unified_models.py)                                                           130 s
#   4. GenEval scoring: the Mask2Former detector at full size + CLIP ViT-L-14, batched vs per image
#      (bench/bench_geneval_scoring.py --detector full); goal >= 4x                               80 s
# Left out: Janus-Pro and Qwen2.5-VL-3B understanding, MetaQuery, the diffusers models (SDXL, SD3, FLUX,
# SANA alone), editing, the judges of MM-Vet / WISE / DPG-Bench / GEdit, more than one GPU. Parts 2-3
# call the adapter directly (no records, image files or scoring; part 1 has them); Ming-Lite-Uni's
# connector has Qwen2.5-0.5B's size (its real size is not in our references); random weights make
# understanding decode every new token it is allowed (no early stop), which real answers may not.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MING_EVAL_OFFLINE=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
CACHE="$(mktemp -d)"
export MING_EVAL_CACHE="$CACHE"
trap 'rm -rf "$CACHE"' EXIT

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then
  DRY=1
  VLM=(--n 4 --new-tokens 2 --batch 2 --image-size 64 --device cpu)
  MING=(--model ming-lite-uni --device cpu --n 4 --new-tokens 2 --batch 2 --image-size 64 --prompts 2 --images 2 --steps 2)
  JANUS=(--model janus-pro-7b --device cpu --prompts 2 --images 2)
  GENEVAL=(--detector tiny --clip tiny --device cpu --prompts 2 --images-per-prompt 2 --size 64 --batch 2 --clip-batch 4)
  TOTAL=1800
else
  VLM=(--full-size --device cuda --n 32 --new-tokens 16 --image-size 512 --threads 8)
  MING=(--model ming-lite-uni --full-size --device cuda --n 16 --new-tokens 16 --image-size 512 --prompts 2 --images 4 --steps 10 --threads 8)
  JANUS=(--model janus-pro-7b --full-size --device cuda --prompts 2 --images 2 --threads 8)
  GENEVAL=(--detector full --clip vit-l-14 --device cuda --prompts 16 --images-per-prompt 4 --size 512 --batch 8 --clip-batch 64)
  TOTAL=470
fi

start=$SECONDS
failed=0
# part TITLE BUDGET COMMAND...: runs COMMAND for at most BUDGET seconds or what is left of TOTAL
part() {
  local title=$1 budget=$2
  shift 2
  local left=$((TOTAL - (SECONDS - start)))
  ((budget > left)) && budget=$left
  echo "== $title (budget ${budget} s)"
  if ((budget < 20)); then
    echo "(skipped: the suite's ${TOTAL} s are spent)"
    failed=1
    return
  fi
  local t0=$SECONDS rc
  set +e
  timeout "$budget" "$@" 2>&1 | grep --line-buffered -v -e "Loading weights" -e "Writing model"
  rc=${PIPESTATUS[0]}
  set -e
  if ((rc == 124)); then
    echo "(stopped at its budget)"
    failed=1
  elif ((rc != 0)); then
    echo "(failed: exit $rc)"
    failed=1
  fi
  echo "   ($((SECONDS - t0)) s)"
}

if ((DRY)); then  # the full-size configs, checked by building their parts without weights
  for model in ming-lite-uni janus-pro-7b; do
    part "0. $model at full size: parameter counts" 120 python bench/bench_unified_models.py --model "$model" --shapes-only
  done
fi
part "1. Qwen2.5-VL-7B understanding: batch 1 vs the card's batch" 110 python bench/bench_vlm_batching.py "${VLM[@]}"
part "2. Ming-Lite-Uni understanding and text-to-image" 150 python bench/bench_unified_models.py "${MING[@]}"
part "3. Janus-Pro-7B text-to-image: batched vs one image per call" 130 python bench/bench_unified_models.py "${JANUS[@]}"
part "4. GenEval scoring: detector + CLIP, batched vs per image" 80 python bench/bench_geneval_scoring.py "${GENEVAL[@]}"
echo "== total $((SECONDS - start)) s"
exit $failed
