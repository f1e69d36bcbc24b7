"""Training side of Digits: MNIST data, the Keras CNN, training, evaluation and export.

Only management commands and Celery workers import this package; it pulls in TensorFlow, which web processes never
load (they serve the exported ``.tflite`` with LiteRT, see ``recognizer.serving``).
"""
