"""Adapters from other review-log formats onto the attempt contract."""
