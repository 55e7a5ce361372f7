"""Ming-Lite-Uni and Janus-Pro-7B through their shipped adapters and cards: batching vs one at a time.

- ``--model ming-lite-uni``: understanding (batch 1 vs the card's batch) on MMStar-like requests (one
  image at MMStar's 512 px, a question with lettered options) and text-to-image (batched as the runner
  batches, the card's prompts per batch x images per prompt, vs one image per call);
- ``--model janus-pro-7b``: text-to-image, batched vs one image per call.

The adapter is loaded once (``MingLiteUni`` / ``JanusAdapter`` via ``from_card`` on the zoo card, only
the checkpoint, dtype and sampling steps swapped) and called directly, so the runner's own work
(records, image writing, scoring) is left out; ``bench/bench_vlm_batching.py`` measures that end to end.

``--full-size`` writes a checkpoint of the released model's sizes with random bf16 weights (no
download) in the layout the adapter loads: the tiny checkpoint's tokenizer and processor, the real
model's shapes (below, from the models' published configs). Otherwise the tiny checkpoint of
:mod:`ming_eval.testing.tiny` is used (``bench/gpu_suite.sh --dry-run``). Random weights decide
nothing about speed except the lengths of the answers: understanding decodes all ``--new-tokens``
tokens (a random model almost never draws its stop token), which real answers may not.

    PYTHONPATH=$PWD python bench/bench_unified_models.py --model ming-lite-uni --full-size --device cuda
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _checkpoints import save_random_bf16

# Ming-Lite-Uni: Qwen2.5-7B (hidden, layers, heads, kv heads, ffn), vocabulary as Qwen2.5's
MING_LLM = (3584, 28, 28, 4, 18944)
MING_VOCAB = 152064
# The connector's size is not in our references; Qwen2.5-0.5B's decoder (an assumption, printed)
MING_CONNECTOR = (896, 24, 14, 2, 4864)
# Qwen2.5-VL's vision tower; its output width is the reference's image_emb_dim (8192)
MING_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "out_hidden_size": 8192,
}
# SANA 1.6B at 512 px (Sana_1600M_512px) and its DC-AE f32c32 autoencoder
SANA_1600M = {
    "num_attention_heads": 70,
    "attention_head_dim": 32,
    "num_layers": 20,
    "num_cross_attention_heads": 20,
    "cross_attention_head_dim": 112,
    "cross_attention_dim": 2240,
    "caption_channels": 2304,
    "in_channels": 32,
    "out_channels": 32,
    "sample_size": 16,
}
DC_AE_F32C32 = {
    "latent_channels": 32,
    "attention_head_dim": 32,
    "encoder_block_out_channels": [128, 256, 512, 512, 1024, 1024],
    "decoder_block_out_channels": [128, 256, 512, 512, 1024, 1024],
    "encoder_layers_per_block": [2, 2, 2, 3, 3, 3],
    "decoder_layers_per_block": [3, 3, 3, 3, 3, 3],
}
# Janus-Pro-7B (deepseek-community/Janus-Pro-7B): a Llama 7B, SigLIP-L/16 at 384 px, the VQ tokenizer
JANUS_PRO_7B_TEXT = {
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 30,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 102400,
    "max_position_embeddings": 16384,
    "head_dim": 128,  # the tiny config stores its own (hidden / heads); set it too
}
JANUS_PRO_7B_VISION = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "image_size": 384,
    "patch_size": 16,
    "projection_dim": 4096,
    "num_image_tokens": 576,
}
JANUS_PRO_7B_VQ = {
    "embed_dim": 8,
    "num_embeddings": 16384,
    "base_channels": 128,
    "latent_channels": 256,
    "channel_multiplier": [1, 1, 2, 2, 4],
    "num_res_blocks": 2,
    "num_patches": 24,
    "projection_dim": 4096,
    "image_token_embed_dim": 2048,
}


def random_filler(device: str) -> Callable[[dict[str, tuple[int, ...]], int], dict[str, Any]]:
    """Random bf16 tensors drawn on ``device`` (fast at 7B), scaled as the tiny checkpoint's are."""
    import torch

    def fill(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, Any]:
        gen = torch.Generator(device).manual_seed(seed)
        out: dict[str, Any] = {}
        for name, shape in sorted(shapes.items()):
            t = torch.randn(shape, generator=gen, device=device, dtype=torch.bfloat16)
            if len(shape) == 1:
                t = t * 0.1 + (1.0 if "norm" in name and name.endswith("weight") else 0.0)
            else:
                t = t / math.sqrt(math.prod(shape[1:]))
            out[name] = t.cpu()
        return out

    return fill


def ming_full_sizes() -> Any:
    from ming_eval.testing.tiny import ming_lite_uni as tiny

    return tiny.Sizes(
        llm=MING_LLM,
        llm_vocab=MING_VOCAB,
        connector=MING_CONNECTOR,
        vision=MING_VISION,
        sana_transformer={**tiny.SANA_TRANSFORMER, **SANA_1600M},
        sana_vae={**tiny.SANA_VAE, **DC_AE_F32C32},
    )


def ming_checkpoint(folder: Path, full_size: bool, device: str) -> Path:
    from ming_eval.testing.tiny import ming_lite_uni as tiny

    if not full_size:
        return tiny.write_tiny_checkpoint(folder)
    return tiny.write_tiny_checkpoint(folder, ming_full_sizes(), random_filler(device))


def janus_full_config(folder: Path) -> Any:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    for part, values in (
        (config.text_config, JANUS_PRO_7B_TEXT),
        (config.vision_config, JANUS_PRO_7B_VISION),
        (config.vq_config, JANUS_PRO_7B_VQ),
    ):
        for key, value in values.items():
            setattr(part, key, value)
    return config


def full_size_shapes(model: str, folder: Path) -> None:
    """Build the full-size checkpoint's parts without their weights (the Ming-Lite-Uni writer with
    empty tensors, Janus on the meta device) and print their parameter counts: checks the
    full-size configs on a machine without a GPU."""
    import torch

    if model == "ming-lite-uni":
        from ming_eval.testing.tiny import ming_lite_uni as tiny

        counts: dict[int, int] = {}

        def count(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, Any]:
            counts[seed] = sum(math.prod(shape) for shape in shapes.values())
            return {name: torch.zeros(0) for name in shapes}

        tiny.write_tiny_checkpoint(folder, ming_full_sizes(), count)
        names = ("LLM", "connector", "vision", "mlp", "SANA transformer", "DC-AE")
        parts = {name: counts[tiny.SEED + i] for i, name in enumerate(names, start=1)}
    else:
        from transformers import JanusForConditionalGeneration

        from ming_eval.testing.tiny.janus import build_tiny_janus

        build_tiny_janus(folder)
        with torch.device("meta"):
            janus = JanusForConditionalGeneration(janus_full_config(folder))
        parts = {name: sum(p.numel() for p in sub.parameters()) for name, sub in janus.model.named_children()}
        parts["text LM head"] = sum(p.numel() for p in janus.lm_head.parameters())
    shown = ", ".join(f"{name} {n / 1e9:.2f}B" for name, n in parts.items())
    print(f"{model} at full size: {sum(parts.values()) / 1e9:.2f}B parameters ({shown})")


def janus_checkpoint(folder: Path, full_size: bool, device: str) -> Path:
    from ming_eval.testing.tiny.janus import build_tiny_janus

    build_tiny_janus(folder)
    if not full_size:
        return folder
    from transformers import JanusForConditionalGeneration, JanusProcessor

    config = janus_full_config(folder)
    save_random_bf16(folder, JanusForConditionalGeneration, config, device)
    processor = JanusProcessor.from_pretrained(folder)
    processor.num_image_tokens = JANUS_PRO_7B_VISION["num_image_tokens"]
    processor.image_processor.size = {"height": 384, "width": 384}
    processor.save_pretrained(folder)
    return folder


def load(model: str, ckpt: Path, full_size: bool, device: str) -> Any:
    from ming_eval.registry import get_model_card
    from ming_eval.runner.plan import load_model_class

    base = get_model_card(model)
    fields = base.model_dump(mode="json", by_alias=True, exclude_none=True)
    fields["checkpoint"] = str(ckpt)
    fields["dtype"] = "bfloat16" if full_size else "float32"
    if not full_size:  # the tiny checkpoints' own geometry
        from ming_eval.testing.registry import deep_merge

        small = {
            "ming-lite-uni": {"generate": {"height": 64, "width": 64}},
            "janus-pro-7b": {"generate": {"height": 32, "width": 32, "extra": {"image_tokens": 16}}},
        }
        fields["protocol"] = deep_merge(fields.get("protocol") or {}, small[model])
    card = base.model_validate(fields)
    return card, load_model_class(card).from_card(card, device=device)


class Meter:
    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device.startswith("cuda")

    def __call__(self, fn: Callable[[], object]) -> tuple[float, float]:
        """Seconds and peak GPU memory (GiB, 0 on CPU) of one call."""
        torch = self.torch
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        fn()
        if self.cuda:
            torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else 0.0
        return time.perf_counter() - t0, peak


def mmstar_like(n: int, size: int) -> list[Any]:
    """MMStar-like requests: one noisy ``size`` px image and a question with four lettered options, laid
    out as VLMEvalKit's multiple-choice prompt."""
    import numpy as np
    from PIL import Image

    from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        image = Image.fromarray(rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8))
        text = (
            f"Question: Which colour dominates region {i} of the image?\nOptions:\nA. red\nB. green\nC. blue\n"
            "D. yellow\nPlease select the correct answer from the options above. \n"
        )
        out.append(UnderstandRequest((ImagePart(ImageRef.from_pil(image)), TextPart(text))))
    return out


def bench_understand(card: Any, adapter: Any, meter: Meter, args: argparse.Namespace) -> None:
    from ming_eval.core.sample import Capability

    protocol = card.protocol_for("mmstar", Capability.UNDERSTAND).model_copy(update={"max_new_tokens": args.new_tokens})
    batch = args.batch or card.default_batch_size(Capability.UNDERSTAND)
    requests = mmstar_like(args.n, args.image_size)
    adapter.understand(requests[:batch], protocol)  # warm-up (kernels, allocator)
    one, peak1 = meter(lambda: [adapter.understand([r], protocol) for r in requests])
    many, peakb = meter(
        lambda: [adapter.understand(requests[i : i + batch], protocol) for i in range(0, len(requests), batch)]
    )
    print(f"understanding, {args.n} MMStar-like requests ({args.image_size} px), {args.new_tokens} new tokens each")
    print(f"  batch 1: {one:.2f}s = {args.n / one:.2f} samples/s, peak {peak1:.1f} GiB")
    whose = " (the card's)" if not args.batch else ""
    print(f"  batch {batch}{whose}: {many:.2f}s = {args.n / many:.2f} samples/s, peak {peakb:.1f} GiB")
    print(f"  speed-up {one / many:.2f}x (goal >= 5x)")


def bench_generate(card: Any, adapter: Any, meter: Meter, args: argparse.Namespace) -> None:
    from ming_eval.core.sample import Capability, GenerateRequest

    protocol = card.protocol_for("geneval", Capability.GENERATE)
    if args.steps and protocol.steps is not None:
        protocol = protocol.model_copy(update={"steps": args.steps})
    batch = card.default_batch_size(Capability.GENERATE)
    k = args.images
    requests = [
        GenerateRequest(f"a photo of a {c}", k, seeds=tuple(range(10 * i, 10 * i + k)))
        for i, c in enumerate(["cat", "red car", "bench and a clock", "green umbrella", "vase"][: args.prompts])
    ]
    singles = [GenerateRequest(r.prompt, 1, seeds=(s,)) for r in requests for s in r.seeds]
    adapter.generate(singles[:1], protocol)  # warm-up
    one, peak1 = meter(lambda: [adapter.generate([r], protocol) for r in singles])
    many, peakb = meter(
        lambda: [adapter.generate(requests[i : i + batch], protocol) for i in range(0, len(requests), batch)]
    )
    n = len(singles)
    steps = f"{protocol.steps} steps (the card: {card.protocol_for('geneval', Capability.GENERATE).steps})"
    size = f"{protocol.height or '?'}x{protocol.width or '?'}"
    print(
        f"text-to-image, {args.prompts} prompts x {k} images at {size}, "
        f"{steps if protocol.steps is not None else 'all image tokens'}, cfg {protocol.cfg}"
    )
    print(f"  one image per call: {one:.2f}s = {n / one:.2f} images/s, peak {peak1:.1f} GiB")
    print(
        f"  batched (up to {batch} prompts x {k} images per call, the card's): {many:.2f}s = {n / many:.2f} images/s, "
        f"peak {peakb:.1f} GiB"
    )
    print(f"  speed-up {one / many:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["ming-lite-uni", "janus-pro-7b"], required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-size", action="store_true", help="the released sizes, random bf16 weights")
    parser.add_argument("--n", type=int, default=32, help="understanding requests (Ming-Lite-Uni)")
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch", type=int, default=0, help="understanding batch (0: the card's)")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--images", type=int, default=4, help="images per prompt")
    parser.add_argument("--steps", type=int, default=0, help="diffusion steps (0: the card's)")
    parser.add_argument("--shapes-only", action="store_true", help="print the full-size parts' sizes, no weights")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" / "Writing model shards" bars
    meter = Meter(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        if args.shapes_only:
            full_size_shapes(args.model, Path(tmp) / "shapes")
            return
        t0 = time.perf_counter()
        if args.model == "ming-lite-uni":
            ckpt = ming_checkpoint(Path(tmp) / "Ming-Lite-Uni", args.full_size, args.device)
        else:
            ckpt = janus_checkpoint(Path(tmp) / "janus", args.full_size, args.device)
        built = time.perf_counter() - t0
        card, adapter = load(args.model, ckpt, args.full_size, args.device)
        if args.model == "ming-lite-uni":
            adapter.model  # noqa: B018 - load before timing
        loaded = time.perf_counter() - t0 - built
        what = "full-size random bf16" if args.full_size else "tiny random"
        print(
            f"{args.model}: {what} checkpoint written in {built:.0f}s, loaded by the shipped adapter in "
            f"{loaded:.0f}s, on {args.device}"
        )
        if args.model == "ming-lite-uni":
            if args.full_size:
                print(f"  (connector at Qwen2.5-0.5B's size {MING_CONNECTOR}: an assumption, not a published number)")
            bench_understand(card, adapter, meter, args)
        bench_generate(card, adapter, meter, args)
        adapter.close()


if __name__ == "__main__":
    main()
