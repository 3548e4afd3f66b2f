"""The exceptions raised by ``cnn_lib.data``.

Catch ``MNISTDataError`` to handle every data problem at once; the two
subclasses say which kind it was.
"""

from __future__ import annotations


class MNISTDataError(Exception):
    """Any failure to find, download, read or verify MNIST data."""


class MNISTVerificationError(MNISTDataError):
    """A file exists but its contents are not the expected MNIST data."""


class MNISTDownloadError(MNISTDataError):
    """A file could not be downloaded from any mirror."""
