"""Floor 1: custom Keras layers, written with keras.ops only and registered as serializable.

They know nothing of tasks. Each module holds one concept and cites its paper.
"""

from keras_recurrent.layers.additive_attention import AdditiveAttention, AdditiveScore
from keras_recurrent.layers.conv_lstm import ConvLSTM, ConvLSTMCell
from keras_recurrent.layers.ensemble import MemberLoss, MemberMean
from keras_recurrent.layers.memn2n import MemN2N
from keras_recurrent.layers.mogrifier_lstm import MogrifierLSTM, MogrifierLSTMCell
from keras_recurrent.layers.ntm import NTM, NTMCell
from keras_recurrent.layers.pointer import PointerAttention, SelectPositions
from keras_recurrent.layers.pooling import MaskedGlobalMaxPooling1D
from keras_recurrent.layers.sru import SRU, elementwise_recurrence
from keras_recurrent.layers.srupp import SRUpp
from keras_recurrent.layers.streaming import StepModel

__all__ = [
    "AdditiveAttention", "AdditiveScore", "ConvLSTM", "ConvLSTMCell", "MaskedGlobalMaxPooling1D", "MemN2N", "MemberLoss", "MemberMean", "MogrifierLSTM", "MogrifierLSTMCell", "NTM", "NTMCell", "PointerAttention", "SRU", "SRUpp",
    "SelectPositions", "StepModel", "elementwise_recurrence",
]
