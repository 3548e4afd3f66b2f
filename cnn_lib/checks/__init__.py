"""Checks for the classroom exercises (the "Implement it yourself" sections).

Each ``check_<exercise>(function)`` runs the learner's function on fixed and
random cases, compares every answer with the library's layers (``Conv3x3``,
``MaxPool2``, ``Softmax``, ``TutorialCNN``; for notebook 07's im2col and col2im
the fast ``Conv``, for notebook 08 the fast ``ReLU``, ``Dense`` and ``Conv``) and,
for gradients, names the central-difference error (``cnn_lib.gradcheck``). It prints one verdict:

- ``✓ <name> passed (N cases)``, or
- ``✗ <name>: <what is wrong, on which case>`` with a ``Hint:``,

and returns it as a ``Verdict``: true when the function passed, false if not, and
whose ``str()`` is the printed text. A check never raises for a wrong answer, an
exception inside the learner's code or a ``raise NotImplementedError()`` stub
("not implemented yet"), so a student notebook runs to its end. The series
notebooks write ``assert (verdict := check_x(x)), verdict``: nbval (and nbgrader)
fail the cell when the reference solution breaks, and the AssertionError carries
the diagnosis, which is what ``nbgrader validate`` shows a student.

Answers are judged at the precision of their dtype: float64 to a relative 1e-6,
float32 to 1e-5 (the ✓ line then says so), float16 not at all. On a max-pool
window with tied maxima, every subgradient is right (notebook 04, section 3), and so
at ReLU's kink, x == 0 (notebook 08).

Specific feedback comes from comparing a wrong answer with the answers that
typical mistakes produce (no max shift, the filter not rotated, the gradient
sent to every tied maximum, ...); the checks never print solution code.

One module per notebook: ``forward`` (01), ``softmax`` (02), ``maxpool`` (04),
``conv`` (05), ``training`` (06), ``fast`` (07), ``deep`` (08); ``_feedback`` is the shared machinery,
``references`` the answers compared with, ``_cases`` the cases.
"""

from ._feedback import Verdict
from .conv import check_conv_d_L_d_filters, check_conv_d_L_d_input
from .deep import check_conv_backward, check_dense_backward, check_relu_backward
from .fast import check_col2im, check_im2col
from .forward import check_conv_forward, check_maxpool_forward
from .maxpool import check_maxpool_backward
from .softmax import check_softmax_backward, check_softmax_forward
from .training import check_train_step

__all__ = [
    "Verdict",
    "check_col2im",
    "check_conv_backward",
    "check_conv_d_L_d_filters",
    "check_conv_d_L_d_input",
    "check_conv_forward",
    "check_dense_backward",
    "check_im2col",
    "check_maxpool_backward",
    "check_maxpool_forward",
    "check_relu_backward",
    "check_softmax_backward",
    "check_softmax_forward",
    "check_train_step",
]
