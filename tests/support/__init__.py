"""Helpers the tests share: surroundings, real processes, faults, review data and image measures."""
