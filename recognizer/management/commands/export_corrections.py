"""``manage.py export_corrections DIR``: write the reviewed corrections as a data set (NPZ, IDX, manifest)."""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand

from recognizer.export import build_data_set


class Command(BaseCommand):
    help = (
        "Export the corrections that training would use (accepted ones; pending too with --include-pending) as "
        "corrections.npz, MNIST-style IDX files and manifest.json."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path, help="where to write the files (created if missing)")
        parser.add_argument(
            "--include-pending",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="also export corrections still pending review (default: the DIGITS_TRAIN_ON_PENDING setting)",
        )
        parser.add_argument(
            "--zip", dest="as_zip", action="store_true", help="write one corrections.zip instead of loose files"
        )

    def handle(self, *args, directory: Path, include_pending: bool | None, as_zip: bool, **options) -> None:
        data_set = build_data_set(include_pending)
        if as_zip:
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / "corrections.zip"
            target.write_bytes(data_set.zip_bytes())
            written = [target]
        else:
            written = data_set.write(directory)
        manifest = data_set.manifest
        self.stdout.write(
            f"Exported {manifest['count']} corrections {manifest['label_counts']} and "
            f"{manifest['not_a_digit_count']} not a digit to:"
        )
        for path in written:
            self.stdout.write(f"  {path}")
