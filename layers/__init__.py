"""Floor 1: custom Keras layers (keras.ops only, serializable); they know nothing of tasks."""
