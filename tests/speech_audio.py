"""Real speech for the transcription tests: espeak-ng reads known text, ffmpeg wraps it in
a video, and a small word error rate says how close the machine draft came."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

from tests.text_images import levenshtein

#: What the English test audio says: a witness-statement-like passage with numbers spelt
#: out (Whisper writes digits or words; spelling them both ways would blur the measure).
ENGLISH = (
    "The convoy arrived at the northern checkpoint shortly after dawn. "
    "Several witnesses said that the soldiers stopped every car and checked the papers "
    "of the drivers. One woman told us that her brother was taken away in a white truck. "
    "Nobody has heard from him since that morning. "
    "The video was filmed from the roof of the school across the road."
)

#: Modern Standard Arabic: "The people gathered in the market in the morning, and the
#: journalist said that the road was closed."
ARABIC = "اجتمع الناس في السوق في الصباح، وقال الصحفي إن الطريق كان مغلقا."


def speak(text: str, out: Path, *, voice: str = "en", words_per_minute: int = 140) -> Path:
    """A WAV file of espeak-ng reading ``text``."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(out), text],
        check=True,
        capture_output=True,
    )
    return out


def silence(out: Path, seconds: float = 8.0) -> Path:
    """A WAV file of silence (with a whisper of noise so it is not all zeros)."""
    _ffmpeg(
        ["-f", "lavfi", "-i", f"anoisesrc=a=0.0005:c=white:r=16000:d={seconds}"],
        ["-ac", "1", str(out)],
    )
    return out


def video_with_audio(wav: Path, out: Path) -> Path:
    """An H.264 + AAC mp4 of a colour card with ``wav`` as its sound track."""
    _ffmpeg(
        ["-f", "lavfi", "-i", "color=c=navy:s=160x120:r=10", "-i", str(wav)],
        ["-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)],
    )
    return out


def video_without_audio(out: Path, seconds: float = 3.0) -> Path:
    """A WebM (VP8) with a picture and no audio stream at all."""
    _ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc=s=160x120:r=10:d={seconds}"],
        ["-c:v", "libvpx", "-an", str(out)],
    )
    return out


def _ffmpeg(inputs: list[str], outputs: list[str]) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, *outputs],
        check=True,
        capture_output=True,
    )


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, so only the words themselves are compared."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-", " ")
    return re.findall(r"[\w']+", text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words: a word-level Levenshtein
    distance, one row at a time."""
    ref, hyp = words(reference), words(hypothesis)
    return levenshtein(ref, hyp) / max(len(ref), 1)
