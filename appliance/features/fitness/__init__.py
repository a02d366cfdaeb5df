"""Fitness counting from playground cameras."""
