"""Model definitions: backbone resolution, the fused-head topline, the TF-IDF reference."""
