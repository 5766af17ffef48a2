"""Scientific-paper classification pipeline: data, models, evaluation, tracking."""
__version__ = "0.2.0"
