"""Training, transfer, comparison and prediction; no Qt imports."""
