"""What an analysis run is asked to do: the same options on the CLI, the API and the server.

``ocr`` reads text in the screenshot, the page's images and video frames;
``transcribe`` writes a draft transcript of every downloaded video or audio file
(opt-in: it is slow and a machine draft); ``translate`` translates what was read
with the operator's translation model, when one is configured. ``languages`` are
tesseract's (``ara+eng`` by default: with ``ara`` alone English lines are lost);
``language`` is the spoken language given to the speech model (``ar``), which
otherwise guesses, and guessed wrong on test audio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from archive.errors import BadInput

DEFAULT_OCR_LANGUAGES = "ara+eng"
_OCR_LANGUAGES = re.compile(r"[a-z]{3}(_[a-z]+)?(\+[a-z]{3}(_[a-z]+)?)*")
_SPOKEN = re.compile(r"[a-z]{2,3}")


class AnalysisOptionsError(BadInput):
    """An option of an analysis request is not one this tool understands: says which."""


@dataclass(frozen=True)
class AnalysisOptions:
    ocr: bool = False
    transcribe: bool = False
    translate: bool = False
    languages: str = DEFAULT_OCR_LANGUAGES
    language: str | None = None

    def __post_init__(self) -> None:
        if not _OCR_LANGUAGES.fullmatch(self.languages):
            raise AnalysisOptionsError(
                f"OCR languages {self.languages!r} are not tesseract language codes joined"
                " by '+' (for example 'ara+eng')"
            )
        if self.language is not None and not _SPOKEN.fullmatch(self.language):
            raise AnalysisOptionsError(
                f"spoken language {self.language!r} is not a two- or three-letter code"
                " (for example 'ar' or 'en')"
            )

    @property
    def wanted(self) -> bool:
        """Whether anything is asked for at all."""
        return self.ocr or self.transcribe or self.translate

    def steps(self) -> list[str]:
        return [name for name in ("ocr", "transcribe", "translate") if getattr(self, name)]

    def to_request(self) -> dict[str, Any]:
        return {
            "ocr": self.ocr,
            "transcribe": self.transcribe,
            "translate": self.translate,
            "languages": self.languages,
            "language": self.language,
        }

    @classmethod
    def from_request(cls, data: dict[str, Any]) -> AnalysisOptions:
        """Options from a stored or submitted request; unknown fields and wrong types named."""
        # ``retry_of``: the run a crash interrupted (capture.analysis.worker); not an option.
        known = {"ocr", "transcribe", "translate", "languages", "language", "retry_of"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AnalysisOptionsError(f"unknown analysis option(s): {', '.join(unknown)}")
        for name in ("ocr", "transcribe", "translate"):
            if not isinstance(data.get(name, False), bool):
                raise AnalysisOptionsError(f"analysis option {name!r} must be true or false")
        for name in ("languages", "language"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise AnalysisOptionsError(f"analysis option {name!r} must be a string")
        return cls(
            ocr=data.get("ocr", False),
            transcribe=data.get("transcribe", False),
            translate=data.get("translate", False),
            languages=data.get("languages") or DEFAULT_OCR_LANGUAGES,
            language=data.get("language") or None,
        )
