"""Batched understanding vs a batch-1 loop, on a tiny random Qwen2-VL through the real runner.

Builds a tiny random ``Qwen2VLForConditionalGeneration`` offline (a BPE tokenizer trained on the
spot, 2-layer text and vision towers), a bench-local adapter that answers a batch in one padded
``generate`` call, and an MMStar-format TSV; then runs ``mmstar`` through ``evaluate()`` at batch
size 1 and at batch size 8 and reports samples/s (inference and scoring, model already loaded once
for warm-up). The model is random: its answers mean nothing, only the throughput does.

    PYTHONPATH=$PWD python bench/bench_vlm_batching.py [--n 64] [--new-tokens 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, ImagePart, UnderstandRequest

SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_qwen2_vl(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = [
        "Question: Which option describes the image? Options: A. a cat B. a dog C. noise D. red",
        "Please select the correct answer from the options above.",
        "Hint: look at the colours",
    ] * 8
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.image_token = "<|image_pad|>"
    tok.video_token = "<|video_pad|>"
    pixels: dict[str, Any] = {"min_pixels": 56 * 56, "max_pixels": 112 * 112}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        video_processor=Qwen2VLVideoProcessor(**pixels),
        tokenizer=tok,
        chat_template=TEMPLATE,
    )
    ids = {
        k: tok.convert_tokens_to_ids(t)
        for k, t in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        )
    }
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 2048,
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1e4},
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={
            "depth": 2,
            "embed_dim": 32,
            "hidden_size": 64,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        **ids,
    )
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


class BenchQwen2VL(BaseModelAdapter):
    """Answers a whole batch with one left-padded ``generate`` call (bench-local, not a model card)."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    busy_s: ClassVar[float] = 0.0  # time inside understand(): image decoding, processor, generate

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import torch
        from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

        torch.manual_seed(0)
        self.processor = AutoProcessor.from_pretrained(self.checkpoint)
        self.processor.tokenizer.padding_side = "left"
        self.model = Qwen2VLForConditionalGeneration.from_pretrained(self.checkpoint).eval()

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        t0 = time.perf_counter()
        try:
            return self._understand(requests, protocol)
        finally:
            type(self).busy_s += time.perf_counter() - t0

    def _understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        import torch

        texts, images = [], []
        for r in requests:
            content = [
                {"type": "image"} if isinstance(p, ImagePart) else {"type": "text", "text": p.text} for p in r.content
            ]
            texts.append(
                self.processor.apply_chat_template(
                    [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
                )
            )
            images.extend(p.image.load() for p in r.content if isinstance(p, ImagePart))
        inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=protocol.max_new_tokens,
                do_sample=False,
                min_new_tokens=protocol.max_new_tokens,
            )
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: on a shared machine, thread sync dominates a tiny model)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    # the card loads the adapter from the importable module, not from this __main__
    from bench.bench_vlm_batching import BenchQwen2VL as Adapter
    from ming_eval.cards.schema import ModelCard
    from ming_eval.data.files import file_digest
    from ming_eval.registry import get_task_card
    from ming_eval.runner.evaluate import RunConfig, evaluate
    from ming_eval.testing.fixtures.vlm import make_mcq

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ckpt = build_tiny_qwen2_vl(tmp / "qwen2vl")
        data = make_mcq(tmp / "MMStar.tsv", n=args.n, image_size=112, noise=True, with_hint=True)
        card = ModelCard.model_validate(
            yaml.safe_load(
                yaml.safe_dump(
                    {
                        "name": "bench-qwen2vl",
                        "class": "bench.bench_vlm_batching:BenchQwen2VL",
                        "capabilities": ["understand"],
                        "checkpoint": str(ckpt),
                        "dtype": "float32",
                        "protocol": {"understand": {"max_new_tokens": args.new_tokens}},
                    }
                )
            )
        )
        task = get_task_card("mmstar")
        options = {"mmstar": {"data_md5": file_digest(data, "md5"), "judge": None}}

        def run(batch: int, limit: int | None, out: str) -> tuple[float, float]:
            config = RunConfig(
                tasks=[task],
                model=card,
                out=tmp / out,
                batch_size=batch,
                limit=limit,
                device="cpu",
                task_options=options,
                data_overrides={"MMStar.tsv": data},
            )
            Adapter.busy_s = 0.0
            t0 = time.perf_counter()
            evaluate(config, None)
            return time.perf_counter() - t0, Adapter.busy_s

        run(args.batch, 8, "warmup")
        (t1, m1), (tb, mb) = run(1, None, "bs1"), run(args.batch, None, f"bs{args.batch}")
        n = args.n
        print(
            f"{n} MMStar-format samples, {args.new_tokens} new tokens each, tiny random Qwen2-VL on CPU, "
            f"{args.threads} torch thread(s)"
        )
        print(
            f"batch 1: end to end {t1:.2f}s = {n / t1:.1f} samples/s; in the model {m1:.2f}s = {n / m1:.1f} samples/s"
        )
        print(
            f"batch {args.batch}: end to end {tb:.2f}s = {n / tb:.1f} samples/s; in the model {mb:.2f}s = "
            f"{n / mb:.1f} samples/s"
        )
        print(f"speed-up: end to end {t1 / tb:.2f}x, in the model {m1 / mb:.2f}x")


if __name__ == "__main__":
    main()
