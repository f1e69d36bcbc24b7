"""The Keras side of training: the CNN, augmentation, fitting, export to ``.tflite``, evaluation and MNIST loading.

It imports TensorFlow, so only management commands and Celery workers load it, never a web process (a test and an
import-linter contract check that).
"""
