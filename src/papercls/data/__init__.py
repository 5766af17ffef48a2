"""Input data: checked CSV reading, the column contract, the model text, the split, the files
between stages."""
