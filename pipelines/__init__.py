"""Floor 3: the machinery every task shares (config, run directories, train / evaluate / predict, CLI).

    >>> from keras_recurrent import pipelines
    >>> run = pipelines.train("sentiment", model="bigru", quick=True)
    >>> pipelines.predict(run.path, ["the plot was not bad"])
"""

from keras_recurrent.pipelines.exporting import export
from keras_recurrent.pipelines.tuning import tune
from keras_recurrent.pipelines.verbs import Run, evaluate, load_run, predict, train

__all__ = ["Run", "train", "evaluate", "predict", "tune", "export", "load_run"]
