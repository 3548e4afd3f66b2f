"""Notebook 06, one step of training the whole network: ``check_train_step``."""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np

from ._cases import train_cases
from ._feedback import (Wrong, accept, as_array, call, compare, container_hint, describe, exception_text, pair, run,
                        tolerance)

LOSS_HINT = "The loss of one image is one number: -ln(out[label]), as net.forward gives it."
WEIGHTS_HINT = ("A step changes the values of the weights, not what they are: w -= lr * gradient keeps each "
                "weight an array of floats of its shape.")
CORRECT_HINT = "correct is 1 if the most probable digit, np.argmax(out), equals label, else 0."
CORRECT_ALWAYS_0_HINT = ("correct is 1 when np.argmax(out), the index of the largest probability, equals label: "
                         "compare that index with the label using == (a probability never equals a label, and "
                         "`is` compares objects: np.int64(1) is 1 is False). net.forward returns correct too.")


def value_dtype(value) -> np.dtype:
    """The dtype a number came in: a NumPy scalar's or 0-d array's own, float64 for a Python number."""
    return value.dtype if isinstance(value, (np.ndarray, np.generic)) else np.dtype(np.float64)


def number(what: str, value, where: str, hint: str, expected: str = "one number", booleans: bool = False) -> float:
    """``value`` as a float if it is one real number (a 0-d array counts); else a ``Wrong``.

    ``expected`` says what should have come, e.g. ``"0 or 1"``.
    ``booleans``: ``True``/``False`` count as 1/0 (``correct = np.argmax(out) == label`` is fine).
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) and booleans:
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise Wrong(f"{what} should be {expected}, but it is {describe(value)} ({where}).", hint)
    return float(value)


def weights_after(net, before: dict, where: str) -> dict:
    """The learner's network's weights after its step, checked to be arrays of the shapes they had."""
    try:
        params = net.params()
        after = {name: params[name] for name in before}
    except Exception as error:
        raise Wrong(f"after your step, the network's weights cannot be read ({exception_text(error)}) "
                    f"({where}).",
                    "Change the weights (net.softmax.weights, net.softmax.biases, net.conv.filters), not the "
                    "layers: net.conv, net.pool and net.softmax must stay the layers they are.") from None
    for name, value in after.items():
        try:
            after[name] = as_array(f"{name} after your step", value, before[name], where)
        except Wrong as wrong:  # the hints of as_array speak of returning; here a weight was replaced
            raise Wrong(wrong.problem, WEIGHTS_HINT) from None
        if after[name].shape != before[name].shape:
            raise Wrong(f"{name} after your step has shape {after[name].shape}, expected {before[name].shape} "
                        f"({where}).", WEIGHTS_HINT)
        bad = after[name].size - np.count_nonzero(np.isfinite(after[name]))
        if bad:
            raise Wrong(f"{name} after your step holds nan or inf, {bad} of {after[name].size} values ({where}).",
                        "One step of size lr * gradient keeps the weights finite: look for a division by zero "
                        "or a gradient that is nan or inf.")
    return after


def check_train_step(train_step: Callable) -> bool:
    """``train_step(net, image, label, lr) -> (loss, correct)``: one SGD step on a ``TutorialCNN``."""
    def judge(learner, case, where):
        image, label, lr = case["image"], case["label"], case["lr"]
        reference, mine = copy.deepcopy(case["net"]), copy.deepcopy(case["net"])
        before = {k: v.copy() for k, v in case["net"].params().items()}
        result = call(learner, where, mine, image, label, lr)
        out, loss, correct = copy.deepcopy(case["net"]).forward(image, label)
        reference.train(image, label, lr)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Wrong(f"return (loss, correct), but your function returned {describe(result)} ({where}).",
                        container_hint(result, "Return a pair: the loss and correct, as forward() gives them "
                                       "besides out."))
        got_loss = number("the loss", result[0], where, LOSS_HINT)
        if not np.isfinite(got_loss):
            raise Wrong(f"the loss is {got_loss}, expected {loss:.6g} ({where}).",
                        "-ln(out[label]) is finite unless out[label] is 0 or nan: check the forward pass (and "
                        "take the log of the probability of the label, not of the label).")
        _, loss_after, _ = copy.deepcopy(reference).forward(image, label)
        raw = copy.deepcopy(case["net"])
        raw_out = raw.softmax.forward(raw.pool.forward(raw.conv.forward(image.astype(float))))
        loss_tol = tolerance(value_dtype(result[0]), abs(loss))
        if loss_tol.close(np.array(got_loss), np.array(loss)):
            accept(loss_tol)
        else:
            for value, problem, hint in [
                (loss_after, "the loss is measured after the update",
                 "Return the loss of the forward pass that the step starts from (before the weights change)."),
                (float(-np.log10(out[label])), "the loss uses log10",
                 "Cross-entropy uses the natural log: -np.log(out[label])."),
                (float(np.log(out[label])), "the loss has the wrong sign", "L = -ln(out[label]), a positive number."),
                (float(-np.log(raw_out[label])), "the image was not scaled",
                 "Feed preprocess(image) (pixels / 255 - 0.5) to the first layer, as net.forward does."),
            ]:
                if loss_tol.close(np.array(got_loss), np.array(value)):
                    raise Wrong(f"{problem}: {pair(got_loss, loss)} ({where}).", hint)
            raise Wrong(f"the loss is wrong: {pair(got_loss, loss)} ({where}).",
                        "The loss is -ln(out[label]) for the probabilities of the forward pass on preprocess(image).")
        got_correct = number("correct", result[1], where, CORRECT_HINT, "0 or 1", booleans=True)
        if got_correct != correct:
            predicted = int(np.argmax(out))
            if correct:
                raise Wrong(f"correct is {got_correct:g}, expected 1: the network's most probable digit, "
                            f"np.argmax(out) = {predicted}, is the label {label} ({where}).",
                            CORRECT_ALWAYS_0_HINT if got_correct == 0 else CORRECT_HINT)
            raise Wrong(f"correct is {got_correct:g}, expected 0: the network's most probable digit, "
                        f"np.argmax(out) = {predicted}, is not the label {label} ({where}).", CORRECT_HINT)
        after = weights_after(mine, before, where)
        changes = {k: after[k] - before[k] for k in before}
        expected = {k: reference.params()[k] - before[k] for k in before}
        unchanged = [k for k in before if not np.any(changes[k])]
        if len(unchanged) == len(before):
            raise Wrong(f"no weight changed ({where}).",
                        "After the backward pass, take the SGD step on every layer: backprop(gradient, lr) "
                        "does both, or subtract lr * gradient yourself.")
        if unchanged:
            raise Wrong(f"{' and '.join(unchanged)} did not change ({where}).",
                        "Backpropagate through all three layers (softmax, then pool, then conv) and update "
                        "every layer's weights.")
        for name in before:  # judged at the precision of the weights after the step (float64 unless made float32)
            compare(f"the change of {name}", changes[name], expected[name], where,
                    "Each weight moves by -lr * dL/dweight: backprop softmax -> pool -> conv, starting from "
                    "d_L_d_out = -1 / out[label] at the label and 0 elsewhere.",
                    [(-expected[name], "your step went uphill (the loss grows)",
                      "Subtract: w -= lr * gradient. If you did, check the sign of the initial gradient, "
                      "-1 / out[label]."),
                     (expected[name] / lr, "the learning rate was not applied",
                      "The step is lr * gradient: pass lr to backprop."),
                     (2 * expected[name], "the step was taken twice",
                      "Run the backward pass and the SGD step once per call.")],
                    dtype=after[name].dtype, scale=float(np.max(np.abs(before[name]))))
    return run("train_step", train_step, train_cases(), judge)
