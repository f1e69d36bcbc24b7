"""The numeric core: preprocessing, uncertainty, the LiteRT classifier, IDX files and figures.

No Django here (an import-linter contract checks it): these modules work from a notebook or a script without settings.
"""
