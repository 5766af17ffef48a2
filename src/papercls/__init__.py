"""Scientific-paper classification pipeline: data, models, evaluation, tracking."""
__version__ = "0.1.0"
