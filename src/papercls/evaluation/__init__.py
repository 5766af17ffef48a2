"""Evaluation: figures, thresholds, the ensemble, test-set figures, written precision, PNG
figures."""
