"""The cocors exception tree.

Every error cocors raises on bad input is a :class:`CocorsError`, a subclass of ``ValueError``
so that code written for pycocotools (``except ValueError``) keeps working.
"""

from __future__ import annotations

__all__ = ["CocorsError", "RleError", "GeometryError", "InputTypeError"]


class CocorsError(ValueError):
    """Base class of every cocors error."""


class RleError(CocorsError):
    """An invalid RLE: bad counts string, runs that do not cover the mask, absurd size."""


class GeometryError(CocorsError):
    """An invalid polygon or box: a coordinate that is not finite or is absurdly large."""


class InputTypeError(CocorsError, TypeError):
    """An argument of the wrong type or shape (also a ``TypeError``)."""
