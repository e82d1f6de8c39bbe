"""Floor 1: custom Keras layers, written with keras.ops only and registered as serializable.

They know nothing of tasks. Each module holds one concept and cites its paper.
"""

from layers.mogrifier_lstm import MogrifierLSTM, MogrifierLSTMCell
from layers.pooling import MaskedGlobalMaxPooling1D
from layers.sru import SRU, elementwise_recurrence
from layers.srupp import SRUpp

__all__ = ["MaskedGlobalMaxPooling1D", "MogrifierLSTM", "MogrifierLSTMCell", "SRU", "SRUpp", "elementwise_recurrence"]
