"""Reproducible training, evaluation and baselines for the frustration and urgency models."""
