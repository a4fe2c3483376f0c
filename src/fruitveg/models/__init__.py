"""The classifiers: blocks (attention, CNN body, head), backbones (Keras applications and
their weights) and build (ModelSpec -> keras.Model)."""
