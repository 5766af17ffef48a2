"""Inference: loading a saved model, the engine choice, predicting files, the predict CLI."""
