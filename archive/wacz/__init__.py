"""The signed WACZ package: its layout, export, offline verification and the court report."""
