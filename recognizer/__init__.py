"""The Digits web app: drawings, predictions, corrections, model versions and training runs."""
