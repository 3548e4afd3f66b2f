"""Loading the MNIST handwritten digits.

Two sources of data are available:

* **The shipped subset** (``load_subset``): the first 1,000 training images and
  the first 1,000 test images of MNIST, stored inside this package in
  ``cnn_lib/data/mnist_subset.npz``. It needs no internet and no extra files,
  and it is what the notebooks train on by default.
* **The full dataset** (``load_full``): all 60,000 training and 10,000 test
  images, read from the four standard MNIST ``.gz`` files. They are looked for,
  in this order:

  1. the ``mnist_dir`` argument, or else the ``MNIST_DIR`` environment
     variable: a folder you already have that holds the four files. It is only
     read, never written to: a missing or damaged file there is an error.
  2. otherwise a per-user cache folder (the ``cache_dir`` argument, else the
     ``CNN_FROM_SCRATCH_CACHE`` environment variable, else
     ``$XDG_CACHE_HOME/cnn-from-scratch/mnist``, else
     ``~/.cache/cnn-from-scratch/mnist``). Files missing from the cache are
     downloaded into it from the mirrors in ``MIRRORS``.

Every file is checked before its data is used, wherever it came from (the
table ``EXPECTED`` says what each must contain). Any problem raises
``MNISTDataError`` with a message saying which file, what was expected, what
was found, and what to do.

``load_mnist`` is the one-call entry point: ``load_mnist("subset")`` or
``load_mnist("full", train_size=5000)``.

Shapes and types of everything returned:

* images: ``(N, 28, 28)`` ``uint8`` arrays, pixel values 0 (background) to 255 (ink)
* labels: ``(N,)`` ``uint8`` arrays, digit values 0 to 9; label ``i`` goes with image ``i``

The modules, one job each:

* ``errors``: the exceptions.
* ``files``: the four files, what they must contain, reading and verifying one.
* ``download``: fetching one file from the mirrors into the cache.
* ``subset``: the shipped 1,000 + 1,000 subset.
* ``full``: where the full dataset lives, ``load_full`` and ``load_mnist``.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, and is
distributed under the Creative Commons Attribution-Share Alike 3.0 licence.

Run ``python -m cnn_lib.data`` to see where the data would come from, and
``python -m cnn_lib.data --download`` to fetch the full dataset into the cache.
"""

from __future__ import annotations

from .download import MIRRORS
from .errors import MNISTDataError, MNISTDownloadError, MNISTVerificationError
from .files import EXPECTED, FILENAMES, read_idx_file
from .full import default_cache_dir, full_mnist_available, load_full, load_mnist
from .subset import SUBSET_PATH, SUBSET_SIZE, load_subset

__all__ = [
    "MNISTDataError",
    "MNISTVerificationError",
    "MNISTDownloadError",
    "MIRRORS",
    "EXPECTED",
    "FILENAMES",
    "SUBSET_PATH",
    "SUBSET_SIZE",
    "load_subset",
    "load_full",
    "load_mnist",
    "full_mnist_available",
    "read_idx_file",
    "default_cache_dir",
]
