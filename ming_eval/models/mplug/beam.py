"""mPLUG's answer decoding: the beam search of ModelScope's ``TextGenerator``, batched.

The rules (which decide the answer, so they are kept exactly):

- every beam starts from ``[CLS]`` (id 101); ``[SEP]`` (id 102) ends an answer; the logits come from
  the whole prefix each step (no key/value cache);
- log-probabilities are ``log(softmax(logits))``; before ``min_length`` steps ``[SEP]`` gets -1e20;
- the running score of a beam is its summed log-probability; candidates are ranked by it divided
  by the length penalty ``((5 + step + 1) / 6) ** 0.6``, the top ``beam_size`` of all beams x vocab
  survive (on the first step only the first beam counts);
- a candidate ending in ``[SEP]`` is kept as a finished hypothesis with its ranked score, but stays
  in the beam (it is extended further on the next steps); a question is done when its best candidate
  ends in ``[SEP]``, or after ``max_length`` steps (then every candidate is a hypothesis);
- the answer is the finished hypothesis with the highest ranked score (the first one kept on ties),
  decoded without special tokens.

Questions of a batch are independent: a finished question leaves the batch, so batching does not
change any answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

START_ID = 101
END_ID = 102
LENGTH_ALPHA = 0.6
BANNED = -1e20


@dataclass(frozen=True)
class Hypothesis:
    """One finished answer: token ids from ``[CLS]`` on and its ranked score."""

    ids: list[int]
    score: float


#: logits (rows, V) of the next token for ``ids`` (rows, T), given the rows of the memory to use
StepFn = Callable[[Tensor, Tensor], Tensor]


def beam_search(
    step_logits: StepFn, batch: int, *, beam_size: int, min_length: int, max_length: int, device: torch.device
) -> list[Hypothesis]:
    """The best hypothesis per question. ``step_logits(ids, rows)`` gets the prefixes and, for each,
    the index of its question's memory row (0..batch*beam_size-1, tiled ``beam_size`` per question)."""
    rows = torch.arange(batch * beam_size, device=device)
    seqs = torch.full((batch * beam_size, 1), START_ID, dtype=torch.long, device=device)
    first = torch.full((beam_size,), float("-inf"), device=device)
    first[0] = 0.0
    running = first.repeat(batch)
    alive = list(range(batch))  # question of each alive group of beams
    found: list[list[tuple[Tensor, list[int]]]] = [[] for _ in range(batch)]
    best: list[Hypothesis | None] = [None] * batch
    for step in range(max_length):
        logits = step_logits(seqs, rows)
        vocab = logits.shape[-1]
        logp = torch.log(torch.softmax(logits.view(-1, vocab), dim=-1))
        if step < min_length:
            logp[:, END_ID] = BANNED
        penalty = ((5.0 + step + 1) / 6.0) ** LENGTH_ALPHA
        ranked = (logp + running.view(-1).unsqueeze(1)) / penalty
        top_scores, top_ids = ranked.reshape(-1, beam_size * vocab).topk(beam_size, dim=-1)
        running = top_scores * penalty
        origin = torch.div(top_ids, vocab, rounding_mode="floor")
        tokens = top_ids.fmod(vocab)
        offsets = torch.arange(0, len(alive) * beam_size, beam_size, device=device)
        picked = (origin + offsets.unsqueeze(1)).view(-1)
        seqs = torch.cat([seqs.index_select(0, picked), tokens.view(-1, 1)], -1)
        rows = rows.index_select(0, picked)
        ended = tokens.eq(END_ID)
        if step + 1 == max_length:
            ended.fill_(True)
        done = ended[:, 0]
        if ended.any():
            grouped = seqs.view(-1, beam_size, seqs.shape[-1])
            for g, question in enumerate(alive):
                if done[g]:
                    ended[g].fill_(True)
                for j in ended[g].nonzero().view(-1).tolist():
                    found[question].append((top_scores[g, j], grouped[g, j].tolist()))
                if done[g]:
                    score, ids = sorted(found[question], key=lambda item: item[0], reverse=True)[0]
                    best[question] = Hypothesis(ids=ids, score=float(score))
            keep = (~done).nonzero().view(-1)
            if keep.numel() == 0:
                break
            running = running.index_select(0, keep)
            alive = [alive[g] for g in keep.tolist()]
            seqs = grouped.index_select(0, keep).view(-1, seqs.shape[-1])
            rows = rows.view(-1, beam_size).index_select(0, keep).view(-1)
    missing = [i for i, hyp in enumerate(best) if hyp is None]
    assert not missing, f"beam search left questions {missing} without an answer"
    return [hyp for hyp in best if hyp is not None]
