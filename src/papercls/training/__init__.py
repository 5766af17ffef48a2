"""Training: the one loop both encoders use, its set-up, checkpoints, epoch selection, the train
stages."""
