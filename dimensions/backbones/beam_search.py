"""Beam search exactly as transformers 4.33's `generate(num_beams=n)` runs it for a decoder-only model.

Per step, for every batch item and its n beams (rows b·n … b·n+n−1):
1. scores = log_softmax(logits of the last position);
2. processors: repetition penalty (only when ≠ 1: a seen token's log-prob ×p if negative, ÷p
   otherwise) and the minimum length (EOS gets −inf while the sequence, prompt included, is
   shorter than `min_length`);
3. scores += the beam's running score (at the first step the beams are copies, so beams 1… start
   at −1e9 and only beam 0 spreads);
4. the top 2n of the item's n·V candidates, best first. Walking them in order: an EOS candidate
   ranked < n closes its beam as a hypothesis scored sum_logprobs / len(sequence without the
   EOS)^length_penalty (an EOS ranked ≥ n is ignored); other candidates fill the n new beams;
5. an item is done when it holds n hypotheses and the best raw candidate score divided by the
   new length cannot beat the worst kept hypothesis (`early_stopping=False`).
The loop ends when every item is done or the sequences reach `max_length`; then the open beams
of unfinished items are added as hypotheses and each item returns its best one.

`step(new_tokens, reorder)` is the model: it receives the tokens to append (the whole prompt
first, then one token per row) and, from the second call on, the row permutation to apply to
whatever it caches, and returns the last position's logits (rows, vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Step = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
FIRST_STEP_OTHER_BEAMS = -1e9  # transformers' initial score of beams 1… (they copy beam 0)


@dataclass(frozen=True)
class BeamSettings:
    num_beams: int
    max_length: int  # prompt included
    min_length: int  # prompt included
    eos_token_id: int
    pad_token_id: int  # what finished items idle on
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0


@dataclass
class Hypothesis:
    score: float
    tokens: list[int]


class BeamHypotheses:
    """transformers' `BeamHypotheses`: the n best finished sequences of one batch item."""

    def __init__(self, num_beams: int, length_penalty: float):
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.beams: list[Hypothesis] = []
        self.worst_score = 1e9

    def add(self, tokens: list[int], sum_logprobs: float) -> None:
        score = sum_logprobs / (len(tokens) ** self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append(Hypothesis(score, tokens))
            if len(self.beams) > self.num_beams:
                ranked = sorted((h.score, index) for index, h in enumerate(self.beams))
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs: float, length: int) -> bool:
        if len(self.beams) < self.num_beams:
            return False
        return self.worst_score >= best_sum_logprobs / length**self.length_penalty

    def best(self) -> Hypothesis:
        # a stable sort and pop(): among equal scores the last added wins, as in transformers
        return sorted(self.beams, key=lambda h: h.score)[-1]


def _process_logits(scores: torch.Tensor, sequences: torch.Tensor, settings: BeamSettings) -> torch.Tensor:
    if settings.repetition_penalty != 1.0:
        seen = torch.gather(scores, 1, sequences)
        seen = torch.where(seen < 0, seen * settings.repetition_penalty, seen / settings.repetition_penalty)
        scores = scores.scatter(1, sequences, seen)
    if sequences.shape[1] < settings.min_length:
        scores[:, settings.eos_token_id] = -float("inf")
    return scores


def beam_search(prompt: torch.Tensor, step: Step, settings: BeamSettings) -> list[Hypothesis]:
    """The best hypothesis (prompt included, EOS excluded) for each row of `prompt` (B, P)."""
    beams = settings.num_beams
    batch = prompt.shape[0]
    sequences = prompt.repeat_interleave(beams, dim=0)
    beam_scores = torch.zeros(batch, beams, device=prompt.device)
    beam_scores[:, 1:] = FIRST_STEP_OTHER_BEAMS
    beam_scores = beam_scores.view(-1)
    hypotheses = [BeamHypotheses(beams, settings.length_penalty) for _ in range(batch)]
    done = [False] * batch
    new_tokens, reorder = sequences, None
    while True:
        logits = step(new_tokens, reorder)
        scores = _process_logits(torch.log_softmax(logits.float(), dim=-1), sequences, settings)
        scores = scores + beam_scores[:, None]
        vocab = scores.shape[-1]
        top_scores, top_tokens = torch.topk(scores.view(batch, beams * vocab), 2 * beams, dim=1, sorted=True)
        top_rows, top_tokens = top_tokens // vocab, top_tokens % vocab
        next_scores = torch.zeros(batch, beams, device=scores.device)
        next_tokens = torch.full((batch, beams), settings.pad_token_id, dtype=torch.long, device=scores.device)
        next_rows = torch.zeros(batch, beams, dtype=torch.long, device=scores.device)
        length = sequences.shape[1] + 1
        top_scores_list, top_tokens_list, top_rows_list = top_scores.tolist(), top_tokens.tolist(), top_rows.tolist()
        for item in range(batch):
            if done[item]:  # finished items idle on padding, as in transformers
                continue
            filled = 0
            for rank, (score, token, beam) in enumerate(
                    zip(top_scores_list[item], top_tokens_list[item], top_rows_list[item], strict=True)):
                row = item * beams + beam
                if token == settings.eos_token_id:
                    if rank < beams:
                        hypotheses[item].add(sequences[row].tolist(), score)
                    continue
                next_scores[item, filled], next_tokens[item, filled], next_rows[item, filled] = score, token, row
                filled += 1
                if filled == beams:
                    break
            done[item] = hypotheses[item].is_done(max(top_scores_list[item]), length)
        beam_scores, reorder = next_scores.view(-1), next_rows.view(-1)
        new_tokens = next_tokens.view(-1, 1)
        sequences = torch.cat([sequences[reorder], new_tokens], dim=-1)
        if all(done) or sequences.shape[1] >= settings.max_length:
            break
    for item in range(batch):
        if not done[item]:
            for beam in range(beams):
                row = item * beams + beam
                hypotheses[item].add(sequences[row].tolist(), float(beam_scores[row]))
    return [h.best() for h in hypotheses]
