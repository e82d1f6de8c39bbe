"""keras-recurrent: recurrent architectures as Keras 3 layers, with task pipelines from data to exported model.

The repository keeps three folders at its top, one per floor (`layers/`, `tasks/`, `pipelines/`);
setuptools installs them under this one import namespace, so they never collide with other
software's `layers`, `tasks` or `pipelines` modules:

    from keras_recurrent.layers import SRU, SRUpp, MogrifierLSTM
    from keras_recurrent import pipelines
    run = pipelines.train("sentiment", quick=True)

This file is the namespace's root (`package/` in the repository, mapped by `pyproject.toml`); it holds
the project's one version number and imports nothing heavy, so `import keras_recurrent` stays cheap.
"""

__version__ = "0.2.0"
