"""The prediction command: `python -m fruitveg.predict PATH... --model cnn`.

settings (command line and params.yaml -> PredictSettings, once), sources (the files to
read: files and folders, each image decoded by content through the layouts' own
preprocessing), classifier (a trained Keras model or one of its TFLite exports) and
__main__ (the entry point and its output: lines of text, or JSON lines).
"""
