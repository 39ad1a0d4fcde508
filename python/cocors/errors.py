"""The cocors exception tree.

Every error cocors raises on bad input is a :class:`CocorsError`, a subclass of ``ValueError``
so that code written for pycocotools (``except ValueError``) keeps working.
"""

from __future__ import annotations

__all__ = [
    "CocorsError",
    "RleError",
    "GeometryError",
    "InputTypeError",
    "ParseError",
    "SchemaError",
    "FileError",
    "FileChangedError",
    "EvalError",
]


class CocorsError(ValueError):
    """Base class of every cocors error."""


class RleError(CocorsError):
    """An invalid RLE: bad counts string, runs that do not cover the mask, absurd size."""


class GeometryError(CocorsError):
    """An invalid polygon or box: a coordinate that is not finite or is absurdly large."""


class InputTypeError(CocorsError, TypeError):
    """An argument of the wrong type or shape (also a ``TypeError``)."""


class ParseError(CocorsError):
    """Malformed JSON: the message names the file, the byte offset, line:column and what was
    expected there."""


class SchemaError(CocorsError):
    """Valid JSON that is not a COCO document as pycocotools reads it: the message names the
    record (e.g. ``annotations[3] (id 17)``), the field and what was expected."""


class FileError(CocorsError, OSError):
    """The annotation file could not be opened or read (also an ``OSError``)."""


class FileChangedError(CocorsError):
    """The file was truncated or rewritten after it was indexed: open it again."""


class EvalError(CocorsError):
    """COCOeval inputs or parameters it cannot evaluate (e.g. keypoint lists that do not match
    ``kpt_oks_sigmas``, or ``accumulate(p)`` with a ``p`` that does not fit the evaluation)."""
