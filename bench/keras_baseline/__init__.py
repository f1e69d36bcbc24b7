"""The usual way, for comparison only: Keras ``model.predict`` in the web process, on every request.

Never part of the product: only ``bench/http_load.py`` starts a server with these settings.
"""
