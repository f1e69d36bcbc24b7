"""Training in the admin: runs (progress, figures, "fine-tune now"), model versions (activation and roll-back) and
the staff dashboard. Importing the modules registers them."""

from training.admin import runs, trials, versions

__all__ = ["runs", "trials", "versions"]
