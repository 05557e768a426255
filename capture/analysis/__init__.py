"""Reading the evidence: OCR of images and screenshots (a machine draft, never evidence)."""
