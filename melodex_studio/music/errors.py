"""The one error type for text a musician typed that is not music we understand."""

from __future__ import annotations


class MusicParseError(ValueError):
    """Raised when a chord, key, meter or note name cannot be parsed.

    The message is one human line that quotes the input and says what is wrong, e.g.
    ``'H#m' is not a chord: unknown root note 'H'``, so the UI can show it as it is.
    It subclasses ValueError so pydantic validators turn it into a validation error.
    """

    @classmethod
    def because(cls, text: str, what: str, reason: str) -> MusicParseError:
        """Build the standard message: ``'<text>' is not <what>: <reason>``."""
        return cls(f"{text!r} is not {what}: {reason}")
