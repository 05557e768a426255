"""Reading what evidence says: keyframes of videos, OCR, transcripts."""
