"""Fruit & vegetable image-classifier comparison, as a reproducible DVC pipeline."""
