"""Reading what the evidence says: OCR, transcripts and translations of sealed captures."""
