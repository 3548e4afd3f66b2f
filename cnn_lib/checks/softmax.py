"""Notebook 02, softmax and its gradient: ``check_softmax_forward`` and ``check_softmax_backward``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import softmax_backward_cases, softmax_forward_cases
from ._feedback import Wrong, as_array, call, compare, container_hint, describe, run
from .references import reference_softmax_backward, reference_softmax_forward, softmax_numeric


def check_softmax_forward(softmax_forward: Callable) -> bool:
    """``softmax_forward(totals) -> probabilities``, numerically stable, for 1-D ``totals``."""
    def judge(learner, case, where):
        t = case["totals"]
        got = call(learner, where, t)
        expected = reference_softmax_forward(t)
        shifted = t - np.max(t)
        with np.errstate(all="ignore"):
            variants = [
                (np.exp(shifted), "the values do not add up to 1",
                 "Divide every e^t_k by S, the sum of all of them."),
                (np.exp(t), "the values do not add up to 1",
                 "Divide every e^t_k by S, the sum of all of them."),
                (reference_softmax_forward(-t), "this is the softmax of -totals",
                 "out_k = e^{t_k} / S: check the sign of the exponent."),
                (reference_softmax_forward(t * np.log(10)), "this uses powers of 10, not of e",
                 "Softmax uses e^t: np.exp(t), not 10 ** t."),
                (reference_softmax_forward(t * np.log(2)), "this uses powers of 2, not of e",
                 "Softmax uses e^t: np.exp(t), not 2 ** t."),
                (np.log(expected), "these are log-probabilities (log-softmax)",
                 "Return the probabilities p_k = e^{t_k} / S themselves, without a log."),
            ]
        compare("the probabilities", got, expected, where,
                "out_k = e^{t_k} / S with S = sum_i e^{t_i}; subtract max(totals) first, it cancels.",
                variants, shape_hint="Return one probability per total: the same shape as `totals`.")
    # nan/inf gets its own hint, since it is the classic mistake of this exercise
    def judge_with_overflow(learner, case, where):
        try:
            judge(learner, case, where)
        except Wrong as wrong:
            if "nan or inf" in wrong.problem and np.max(np.abs(case["totals"])) > 100:
                raise Wrong(wrong.problem.replace("nan or inf in your result",
                                                  "nan or inf, np.exp overflowed or underflowed"),
                            "Subtract max(totals) before np.exp (not the min or the mean): then the largest "
                            "exponent is e^0 = 1 and nothing overflows, and the shift cancels in the ratio "
                            "(notebook 02, section 9).") from None
            raise
    return run("softmax_forward", softmax_forward, softmax_forward_cases(), judge_with_overflow)


SHAPE_HINTS = {
    "d_L_d_w": "d_L_d_w has the shape of the weights, (input_len, nodes): entry (j, k) is "
               "input[j] * d_L_d_t[k].",
    "d_L_d_b": "d_L_d_b has one entry per node: d t_k / d b_k = 1, so d_L_d_b = d_L_d_t "
               "(no sum over nodes).",
    "d_L_d_input": "d_L_d_input has one entry per input: it sums over the nodes k, "
                   "weights[j, k] * d_L_d_t[k].",
}


def check_softmax_backward(softmax_backward: Callable) -> bool:
    """``softmax_backward(d_L_d_out, input, weights, totals) -> (d_L_d_w, d_L_d_b, d_L_d_input)``."""
    names = tuple(SHAPE_HINTS)

    def judge(learner, case, where):
        d_L_d_out, input, weights, totals = case["args"]
        got = call(learner, where, *case["args"])
        expected = reference_softmax_backward(*case["args"])
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong(f"return three gradients (d_L_d_w, d_L_d_b, d_L_d_input), but your function returned "
                        f"{describe(got)} ({where}).",
                        container_hint(got, "Return a tuple of the three gradients, in the order "
                                       "(d_L_d_w, d_L_d_b, d_L_d_input)."))
        got = [as_array(name, g, e, where, SHAPE_HINTS[name]) for name, g, e in zip(names, got, expected)]
        shapes = [g.shape for g in got]
        if sorted(map(str, shapes)) == sorted(str(e.shape) for e in expected) and shapes != [e.shape for e in expected]:
            raise Wrong(f"the three gradients come in the wrong order: shapes {shapes} ({where}).",
                        "Return them in the order (d_L_d_w, d_L_d_b, d_L_d_input).")
        p = reference_softmax_forward(totals)
        jacobian = np.diag(p) - np.outer(p, p)                    # d out_i / d t_k
        wrong_t = {
            "skipped": (d_L_d_out, "the softmax's own derivative is missing: you used d_L_d_out as if it were "
                        "d_L_d_t", "Chain rule: d_L_d_t = sum_i d_L_d_out[i] * d out_i / d t, a missing factor. "
                        "The softmax sits between the totals and the loss."),
            "diagonal": (d_L_d_out * p * (1 - p), "only the diagonal of the softmax Jacobian is used",
                         "Every out_i depends on every total t_k: d out_i / d t_k = -p_i p_k for k != i, "
                         "so d_L_d_t[k] sums over all i."),
            "off-sign": ((2 * np.diag(np.diag(jacobian)) - jacobian) @ d_L_d_out,
                         "the off-diagonal terms of the softmax Jacobian have the wrong sign",
                         "For k != i, d out_i / d t_k = -e^{t_i} e^{t_k} / S^2 = -p_i p_k (negative)."),
        }
        numeric = softmax_numeric(*case["args"])
        for name, g, e, n in zip(names, got, expected, numeric):
            variants = []
            for d_L_d_t, problem, hint in wrong_t.values():
                variants.append(({"d_L_d_w": np.outer(input, d_L_d_t), "d_L_d_b": d_L_d_t,
                                  "d_L_d_input": weights @ d_L_d_t}[name], problem, hint))
            shape_hint = SHAPE_HINTS[name]
            if name == "d_L_d_w" and g.shape == e.T.shape and g.shape != e.shape:
                raise Wrong(f"d_L_d_w: transposed, shape {g.shape}, expected {e.shape} ({where}).",
                            "d_L_d_w[j, k] = input[j] * d_L_d_t[k]: the outer product of input and "
                            "d_L_d_t, in that order.")
            compare(name, g, e, where, f"{shape_hint} Derive d_L_d_t first (softmax Jacobian times "
                    "d_L_d_out), then d_L_d_w, d_L_d_b, d_L_d_input from t = input . w + b.",
                    variants, shape_hint, numeric=n)

    def judge_with_overflow(learner, case, where):
        try:
            judge(learner, case, where)
        except Wrong as wrong:
            if "nan or inf" in wrong.problem and np.max(np.abs(case["args"][3])) > 100:
                raise Wrong(wrong.problem, "With totals around 1000, e^t overflows: subtract max(totals) "
                            "before np.exp. Every ratio e^t_i / S is unchanged.") from None
            raise
    return run("softmax_backward", softmax_backward, softmax_backward_cases(), judge_with_overflow)
