"""The training side of Digits, a Django app: training runs, the train and fine-tune pipelines, their Celery tasks,
commands and admin pages.

It builds on :mod:`recognizer` (models, registry, preprocessing); :mod:`recognizer` never imports it. Its Keras code
lives in :mod:`training.ml`, which only commands and workers load: web processes import this app's admin and tasks
modules but never TensorFlow.
"""
