"""Notebook 06, one step of training the whole network: ``check_train_step``."""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np

from ._cases import train_cases
from ._feedback import RTOL, Wrong, call, compare, run


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
            raise Wrong(f"return (loss, correct), but your function returned {type(result).__name__} ({where}).",
                        "Return a pair: the loss and correct, as forward() gives them besides out.")
        got_loss, got_correct = result
        try:
            got_loss = float(got_loss)
        except (TypeError, ValueError):
            raise Wrong(f"the loss should be a number, but it is {type(got_loss).__name__} ({where}).",
                        "The loss of one image is a float: -ln(out[label]).") from None
        _, loss_after, _ = copy.deepcopy(reference).forward(image, label)
        raw = copy.deepcopy(case["net"])
        raw_out = raw.softmax.forward(raw.pool.forward(raw.conv.forward(image.astype(float))))
        if not np.isclose(got_loss, loss, rtol=RTOL):
            for value, problem, hint in [
                (loss_after, "the loss is measured after the update",
                 "Return the loss of the forward pass that the step starts from (before the weights change)."),
                (float(-np.log10(out[label])), "the loss uses log10",
                 "Cross-entropy uses the natural log: -np.log(out[label])."),
                (float(np.log(out[label])), "the loss has the wrong sign", "L = -ln(out[label]), a positive number."),
                (float(-np.log(raw_out[label])), "the image was not scaled",
                 "Feed preprocess(image) (pixels / 255 - 0.5) to the first layer, as net.forward does."),
            ]:
                if np.isclose(got_loss, value, rtol=RTOL):
                    raise Wrong(f"{problem}: you return {got_loss:.6g}, expected {loss:.6g} ({where}).", hint)
            raise Wrong(f"the loss is {got_loss:.6g}, expected {loss:.6g} ({where}).",
                        "The loss is -ln(out[label]) for the probabilities of the forward pass on preprocess(image).")
        if int(got_correct) != correct or got_correct not in (0, 1):
            raise Wrong(f"correct is {got_correct!r}, expected {correct} ({where}).",
                        "correct is 1 if the most probable digit, np.argmax(out), equals label, else 0.")
        changes = {k: mine.params()[k] - before[k] for k in before}
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
        for name in before:
            compare(f"the change of {name}", changes[name], expected[name], where,
                    "Each weight moves by -lr * dL/dweight: backprop softmax -> pool -> conv, starting from "
                    "d_L_d_out = -1 / out[label] at the label and 0 elsewhere.",
                    [(-expected[name], "your step went uphill (the loss grows)",
                      "Subtract: w -= lr * gradient. If you did, check the sign of the initial gradient, "
                      "-1 / out[label]."),
                     (expected[name] / lr, "the learning rate was not applied",
                      "The step is lr * gradient: pass lr to backprop."),
                     (2 * expected[name], "the step was taken twice",
                      "Run the backward pass and the SGD step once per call.")])
    return run("train_step", train_step, train_cases(), judge)
