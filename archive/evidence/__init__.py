"""Evidence: sealing, signing, trusted time (RFC 3161), custody and its anchors."""
