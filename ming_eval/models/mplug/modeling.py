"""mPLUG for visual question answering, in plain PyTorch, with ModelScope's parameter names.

The forward pass (ModelScope ``MPlugForVisualQuestionAnswering`` at inference):

1. vision: a CLIP ViT (patch conv, class token, positional embedding for ``image_res``, pre-norm,
   residual blocks with QuickGELU), its tokens after ``ln_post`` (no projection); when the BERT width
   differs from the visual width, a linear map + LayerNorm (eps 1e-12) brings them to BERT's width;
2. question: a BERT encoder (``text_encoder_layers`` layers) over the question padded to 25 tokens;
3. fusion: the last ``fusion_layers`` layers of a BERT stack without embeddings; each layer
   self-attends over the question then cross-attends to the image, except every ``stride_layer``-th
   (never the first), which self-attends over [image; question] jointly and adds its image half to
   the image states;
4. answer: a BERT decoder (``text_decode_layers`` layers, causal self-attention, cross-attention to
   [image states; question states]) with the MLM head, decoded by :mod:`.beam`.

Masks are additive as in the original: -10000 for self-attention (question padding, causality) and
the dtype's most negative value for cross-attention; in float16 attention scores and feed-forward
outputs are clamped to the finite range like the original.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ming_eval.models.mplug.config import BertSizes, MPlugConfig

SELF_MASK_VALUE = -10000.0


def _clamp_half(x: Tensor) -> Tensor:
    if x.dtype == torch.float16 and torch.isinf(x).any():
        bound = torch.finfo(torch.float16).max - 1000
        return x.clamp(-bound, bound)
    return x


def self_mask(keep: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, L) or (B, Q, L) 0/1 -> additive (B, 1, 1|Q, L) with -10000 where masked."""
    mask = keep[:, None, None, :] if keep.dim() == 2 else keep[:, None, :, :]
    return (1.0 - mask.to(dtype)) * SELF_MASK_VALUE


def cross_mask(keep: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, L) 0/1 -> additive (B, 1, 1, L) with the dtype's minimum where masked."""
    return (1.0 - keep[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


# ---------------------------------------------------------------- vision (CLIP ViT)


class QuickGELU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class FloatLayerNorm(nn.LayerNorm):
    """LayerNorm that returns its input's dtype (CLIP's)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).type(x.dtype)


class ResidualBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = FloatLayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))
        self.ln_2 = FloatLayerNorm(width)

    def forward(self, x: Tensor) -> Tensor:  # (L, B, D)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _Blocks(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualBlock(width, heads) for _ in range(layers)])


class VisionTower(nn.Module):
    """CLIP ViT returning every token's features after ``ln_post``."""

    def __init__(self, cfg: MPlugConfig) -> None:
        super().__init__()
        width, patch = cfg.clip_vision_width, cfg.clip_vision_patch_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(cfg.num_patches + 1, width))
        self.ln_pre = FloatLayerNorm(width)
        self.transformer = _Blocks(width, cfg.clip_vision_layers, cfg.vision_heads)
        self.ln_post = FloatLayerNorm(width)

    def forward(self, pixels: Tensor) -> Tensor:
        x = self.conv1(pixels).flatten(2).transpose(1, 2)  # (B, N, D)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)[: x.shape[1]]
        x = self.ln_pre(x).transpose(0, 1)
        x = self.transformer.resblocks(x).transpose(0, 1)
        return self.ln_post(x)


class VisualEncoder(nn.Module):
    """Holds the ViT under ModelScope's name (``visual_encoder.visual``)."""

    def __init__(self, cfg: MPlugConfig) -> None:
        super().__init__()
        self.visual = VisionTower(cfg)


# ---------------------------------------------------------------- BERT blocks


class SelfAttention(nn.Module):
    def __init__(self, cfg: BertSizes, kv_width: int) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(kv_width, cfg.hidden_size)
        self.value = nn.Linear(kv_width, cfg.hidden_size)

    def _split(self, x: Tensor) -> Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, mask: Tensor, kv: Tensor | None = None) -> Tensor:
        source = x if kv is None else kv
        q, k, v = self._split(self.query(x)), self._split(self.key(source)), self._split(self.value(source))
        scores = _clamp_half(q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + mask, dim=-1)
        out = (probs @ v).transpose(1, 2).contiguous()
        return out.view(out.shape[0], out.shape[1], -1)


class SelfOutput(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, cfg: BertSizes, kv_width: int | None = None) -> None:
        super().__init__()
        self.self = SelfAttention(cfg, kv_width or cfg.hidden_size)
        self.output = SelfOutput(cfg)

    def forward(self, x: Tensor, mask: Tensor, kv: Tensor | None = None) -> Tensor:
        return self.output(self.self(x, mask, kv), x)


class Intermediate(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.dense(x))


class Output(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(_clamp_half(self.dense(x)) + residual)


class Layer(nn.Module):
    """A BERT layer: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, cfg: BertSizes, *, cross: bool) -> None:
        super().__init__()
        self.attention = Attention(cfg)
        if cross:
            self.crossattention = Attention(cfg, cfg.encoder_width)
        self.intermediate = Intermediate(cfg)
        self.output = Output(cfg)

    def feed_forward(self, x: Tensor) -> Tensor:
        return self.output(self.intermediate(x), x)

    def forward(self, x: Tensor, mask: Tensor, kv: Tensor | None = None, kv_mask: Tensor | None = None) -> Tensor:
        x = self.attention(x, mask)
        if kv is not None:
            assert kv_mask is not None
            x = self.crossattention(x, kv_mask, kv)
        return self.feed_forward(x)


class Embeddings(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, ids: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)[None]
        types = torch.zeros_like(ids)
        x = self.word_embeddings(ids) + self.token_type_embeddings(types)
        return self.LayerNorm(x + self.position_embeddings(positions))


class _LayerStack(nn.Module):
    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)


class TextModel(nn.Module):
    """BERT with embeddings: the question encoder (no cross-attention) or the decoder's body."""

    def __init__(self, cfg: BertSizes, layers: int, *, cross: bool) -> None:
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = _LayerStack([Layer(cfg, cross=cross) for _ in range(layers)])

    def forward(self, ids: Tensor, mask: Tensor, kv: Tensor | None = None, kv_mask: Tensor | None = None) -> Tensor:
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            x = layer(x, mask, kv, kv_mask)
        return x


class FusionModel(nn.Module):
    """The fusion encoder; layers before ``fusion_start`` never run and hold no weights."""

    def __init__(self, cfg: MPlugConfig) -> None:
        super().__init__()
        start = cfg.fusion_start
        layers: list[nn.Module] = [
            nn.Identity() if i < start else Layer(cfg.bert, cross=True) for i in range(cfg.bert.num_hidden_layers)
        ]
        self.encoder = _LayerStack(layers)
        self.start = start
        self.stride = cfg.bert.stride_layer

    def forward(self, text: Tensor, text_mask: Tensor, image: Tensor, image_mask: Tensor) -> tuple[Tensor, Tensor]:
        n_image = image.shape[1]
        for depth, layer in enumerate(self.encoder.layer[self.start :]):
            assert isinstance(layer, Layer)
            if depth == 0 or depth % self.stride != 0:
                text = layer(text, text_mask, image, image_mask)
            else:
                joint = layer.attention(torch.cat([image, text], 1), torch.cat([image_mask, text_mask], 3))
                out = layer.feed_forward(joint)
                image = image + out[:, :n_image]
                text = out[:, n_image:]
        return image, text


class PredictionTransform(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.LayerNorm(F.gelu(self.dense(x)))


class Predictions(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.transform = PredictionTransform(cfg)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.transform(x), self.decoder.weight, self.bias)


class _Head(nn.Module):
    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.predictions = Predictions(cfg)


class AnswerDecoder(nn.Module):
    """The answer decoder: causal BERT with cross-attention and the MLM head."""

    def __init__(self, cfg: BertSizes) -> None:
        super().__init__()
        self.bert = TextModel(cfg, cfg.text_decode_layers, cross=True)
        self.cls = _Head(cfg)

    def forward(self, ids: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """Logits at every position of ``ids`` (B, T) given ``memory`` (B, M, D) and its additive mask."""
        length = ids.shape[1]
        causal = torch.ones(length, length, device=ids.device).tril()[None].expand(ids.shape[0], -1, -1)
        mask = self_mask(causal, memory.dtype)
        return self.cls.predictions(self.bert(ids, mask, memory, memory_mask))


class MPlugVQA(nn.Module):
    """The inference half of ModelScope's ``MPlugForVisualQuestionAnswering``."""

    def __init__(self, cfg: MPlugConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.visual_encoder = VisualEncoder(cfg)
        self.project = cfg.bert.hidden_size != cfg.vision_width
        if self.project:
            self.visn_fc = nn.Linear(cfg.vision_width, cfg.bert.hidden_size)
            self.visn_layer_norm = nn.LayerNorm(cfg.bert.hidden_size, eps=1e-12)
        self.text_encoder = TextModel(cfg.bert, cfg.bert.text_encoder_layers, cross=False)
        self.fusion_encoder = FusionModel(cfg)
        self.text_decoder = AnswerDecoder(cfg.bert)

    @property
    def dtype(self) -> torch.dtype:
        return self.visual_encoder.visual.conv1.weight.dtype

    def encode(self, pixels: Tensor, question_ids: Tensor, question_mask: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's memory (B, 1 + patches + 25, D) and its 0/1 mask."""
        image = self.visual_encoder.visual(pixels.to(self.dtype))
        if self.project:
            image = self.visn_layer_norm(self.visn_fc(image))
        image_keep = torch.ones(image.shape[:2], dtype=torch.long, device=image.device)
        text = self.text_encoder(question_ids, self_mask(question_mask, self.dtype))
        image, text = self.fusion_encoder(
            text, self_mask(question_mask, self.dtype), image, cross_mask(image_keep, self.dtype)
        )
        return torch.cat([image, text], 1), torch.cat([image_keep, question_mask], 1)

    def next_token_logits(self, ids: Tensor, memory: Tensor, memory_keep: Tensor) -> Tensor:
        """Logits (B, V) for the token after ``ids``."""
        return self.text_decoder(ids, memory, cross_mask(memory_keep, memory.dtype))[:, -1, :]
