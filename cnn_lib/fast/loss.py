"""Softmax with the cross-entropy loss for a batch, as one function (CS231n's ``softmax_loss``)."""

from __future__ import annotations

import numpy as np

from ..require import require_batch, shapes_already_checked


def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean cross-entropy of softmax(``scores``) against ``labels``, and its gradient.

    - ``scores``: ``(n, K)``, one row of totals per image (float32 or float64).
    - ``labels``: ``(n,)`` integers 0..K-1.
    - Returns ``(loss, d_L_d_scores, probabilities)``: the mean loss, its
      gradient ``(n, K)`` and the probabilities ``(n, K)``.

    With ``s`` one row of scores and ``y`` its label::

        log p[k] = s[k] - max(s) - ln(sum_j e^(s[j] - max(s)))     (stable log-softmax)
        L = -(1/n) * sum over images of log p[y]
        dL/ds = (p - onehot(y)) / n

    Subtracting ``max(s)`` changes nothing mathematically but keeps ``exp``
    from overflowing (notebook 02).
    """
    scores, labels = require_scores_and_labels(scores, labels)
    n = len(labels)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probabilities = np.exp(log_probs)
    loss = float(-log_probs[np.arange(n), labels].mean())

    d_L_d_scores = probabilities.copy()
    d_L_d_scores[np.arange(n), labels] -= 1
    return loss, d_L_d_scores / n, probabilities


def require_scores_and_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Finite float scores ``(n, K)`` and ``n`` integer labels 0..K-1."""
    if shapes_already_checked():
        return scores, labels
    scores = np.asarray(scores)
    scores = require_batch(scores, scores.dtype if scores.dtype.kind == "f" else np.float64, 2,
                           "softmax_cross_entropy scores", "(n, classes)")
    labels = np.asarray(labels)
    n, K = scores.shape
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= K:
        raise ValueError(
            f"labels must be {n} integer class indices 0-{K - 1} (shape ({n},)), "
            f"but got shape {labels.shape} and dtype {labels.dtype}"
            + (f" with values {labels.min()}..{labels.max()}." if labels.size and labels.dtype.kind in "iu" else ".")
        )
    return scores, labels
