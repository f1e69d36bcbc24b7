"""Benchmarks: every performance figure in the README comes from one of these (``make bench`` runs them all)."""
