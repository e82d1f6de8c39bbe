"""An ensemble of independently trained members inside one model.

Averaging networks that differ only in their random initialisation is the cheapest reliable gain in
forecasting accuracy: N-BEATS (Oreshkin et al., "N-BEATS: Neural basis expansion analysis for
interpretable time series forecasting", ICLR 2020) and ES-RNN (Smyl, IJF 2020) both reach their M4
numbers with ensembles. The members must be trained *independently*: trained through the loss of their
average, they learn to cancel each other's errors and the ensemble is just a wider network (Lakshminarayanan
et al., "Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017, train
each member on its own loss).

Two pieces make that one Keras model, trained by an ordinary `fit` and exported as one graph:

- `MemberMean` stacks the members' outputs on a last axis; in training it passes the stack through, in
  inference it returns the members' mean. A served or exported model gives the ensemble's forecast.
- `MemberLoss` wraps the loss: given the stack, it averages the loss of every member, so the gradient
  reaching member m is that of member m's own loss (divided by the number of members, which Adam's
  per-parameter scaling undoes); given one output (validation, evaluation) it is the wrapped loss.
  Early stopping thus watches the ensemble's own validation loss.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_recurrent")
class MemberMean(keras.layers.Layer):
    """The members' outputs stacked on a new last axis in training, their mean in inference.

    Call arguments:
        inputs: a list of M tensors of one shape, the members' outputs.
        training: True passes the stack (..., M) on to `MemberLoss`; otherwise the mean is returned.

    Returns:
        (..., M) in training, else the shape of one member's output.

    Example:

    >>> MemberMean()([np.zeros((2, 3)), np.ones((2, 3))]).numpy()[0]
    array([0.5, 0.5, 0.5], dtype=float32)
    """

    def call(self, inputs, training=None):
        stacked = ops.stack(inputs, axis=-1)
        return stacked if training else ops.mean(stacked, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


def _members_axis(y_pred, output_rank: int) -> bool:
    """Whether `y_pred` carries the members' axis (training) or is one output (inference)."""
    return len(y_pred.shape) == output_rank + 1


@keras.saving.register_keras_serializable(package="keras_recurrent")
class MemberLoss(keras.losses.Loss):
    """A loss applied to every member of a `MemberMean` stack and averaged: each member learns from its
    own errors, independently of the others.

    Args:
        loss: the loss of one member's output (a `keras.losses.Loss`).
        output_rank: the rank of one member's output, batch axis included (a stack has one more).

    Example:

    >>> loss = MemberLoss(keras.losses.MeanSquaredError(), output_rank=2)
    >>> float(loss(np.zeros((1, 2)), np.stack([np.ones((1, 2)), 3 * np.ones((1, 2))], -1)))  # (1 + 9) / 2
    5.0
    """

    def __init__(self, loss, output_rank: int, name=None, **kwargs):
        loss = keras.losses.get(loss)
        super().__init__(name=name or f"members_{loss.name}", **kwargs)
        self.loss = loss
        self.output_rank = int(output_rank)

    def call(self, y_true, y_pred):
        if not _members_axis(y_pred, self.output_rank):
            return self.loss.call(y_true, y_pred)
        members = y_pred.shape[-1]
        return sum(self.loss.call(y_true, y_pred[..., m]) for m in range(members)) / members

    def get_config(self):
        return {**super().get_config(), "loss": keras.losses.serialize(self.loss), "output_rank": self.output_rank}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "loss": keras.losses.deserialize(config["loss"])})


@keras.saving.register_keras_serializable(package="keras_recurrent")
def ensemble_mean_absolute_error(y_true, y_pred, output_rank):
    """The mean absolute error of the ensemble's mean: a training metric that reads a `MemberMean` stack
    as the forecast it stands for."""
    if _members_axis(y_pred, output_rank):
        y_pred = ops.mean(y_pred, axis=-1)
    return keras.losses.mean_absolute_error(y_true, y_pred)


def ensemble_mae(output_rank: int):
    """The "mae" metric of a model whose output may be a `MemberMean` stack."""
    return keras.metrics.MeanMetricWrapper(ensemble_mean_absolute_error, name="mae", output_rank=output_rank)


__all__ = ["MemberLoss", "MemberMean", "ensemble_mae", "ensemble_mean_absolute_error"]
