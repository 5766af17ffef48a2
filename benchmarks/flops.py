"""The FLOP model: work per sequence, and the tokens and FLOPs of a set of padded batches.

Per sequence of ``s`` tokens with ``N`` non-embedding parameters, ``L`` layers and hidden size
``d``: training (forward + backward) 6*N*s + 12*L*d*s^2, inference (forward) 2*N*s + 4*L*d*s^2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def train_flops_per_sequence(n_params: int, n_layers: int, hidden: int, seq_len: int) -> float:
    """Forward + backward FLOPs of one sequence of ``seq_len`` tokens:
    6*N*s (matmuls with the weights) + 12*L*d*s^2 (attention scores and mixing)."""
    s = float(seq_len)
    return 6.0 * n_params * s + 12.0 * n_layers * hidden * s * s


def infer_flops_per_sequence(n_params: int, n_layers: int, hidden: int, seq_len: int) -> float:
    """Forward FLOPs of one sequence: 2*N*s + 4*L*d*s^2."""
    s = float(seq_len)
    return 2.0 * n_params * s + 4.0 * n_layers * hidden * s * s


def batch_work(
    lengths: Sequence[int],
    batches: Sequence[Sequence[int]],
    flops_per_sequence: Callable[[int], float],
) -> dict[str, float]:
    """Tokens and FLOPs of running ``batches`` (lists of row indices) padded to their longest
    row: ``real_*`` count each row at its own length, ``padded_*`` at the batch's length."""
    real_tokens = padded_tokens = 0
    real_flops = padded_flops = 0.0
    for batch in batches:
        lens = [int(lengths[i]) for i in batch]
        if not lens:
            continue
        pad_to = max(lens)
        real_tokens += sum(lens)
        padded_tokens += pad_to * len(lens)
        real_flops += sum(flops_per_sequence(n) for n in lens)
        padded_flops += len(lens) * flops_per_sequence(pad_to)
    return {
        "real_tokens": real_tokens,
        "padded_tokens": padded_tokens,
        "real_flops": real_flops,
        "padded_flops": padded_flops,
    }


def recorded_work(
    batches: Sequence[tuple[Sequence[int], int]],
    flops_per_sequence: Callable[[int], float],
) -> dict[str, float]:
    """:func:`batch_work` of batches as a collator made them: (the real length of each row,
    the length the batch was padded to), e.g. the max length for every batch of a collator
    that pads to it."""
    real_tokens = padded_tokens = 0
    real_flops = padded_flops = 0.0
    for lens, pad_to in batches:
        real_tokens += sum(int(n) for n in lens)
        padded_tokens += int(pad_to) * len(lens)
        real_flops += sum(flops_per_sequence(int(n)) for n in lens)
        padded_flops += len(lens) * flops_per_sequence(int(pad_to))
    return {
        "real_tokens": real_tokens,
        "padded_tokens": padded_tokens,
        "real_flops": real_flops,
        "padded_flops": padded_flops,
    }
