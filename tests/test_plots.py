"""Pictures people would misread (issue 27): counting axes with whole-number ticks, colour bars on heat maps,
full titles, and TSP answers that show lengths and the gap instead of 'differs'."""

import os

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")


def _integer_ticks(ax, axis="x") -> bool:
    locator = getattr(ax, f"{axis}axis").get_major_locator()
    return bool(getattr(locator, "_integer", False))


def test_learning_curves_count_whole_epochs():
    from keras_recurrent.pipelines.plotting import learning_curves

    fig = learning_curves([{"epoch": 0, "loss": 1.0, "val_loss": 1.1}, {"epoch": 1, "loss": 0.5, "val_loss": 0.7}], "t")
    assert all(_integer_ticks(ax) for ax in fig.axes)
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())


def test_memory_example_heat_maps_carry_colour_bars():
    from keras_recurrent.tasks.memory import plots

    steps, bits = 9, 4
    fig = plots.example(np.zeros((steps, bits + 2)), np.zeros((steps, bits)), np.zeros((steps, bits)), np.ones(steps),
                        None, "copy")
    images = [ax for ax in fig.axes if ax.images]
    colour_bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(images) == 3 and len(colour_bars) == 3


def test_tsp_answers_show_both_lengths_and_the_gap():
    from keras_recurrent.tasks.pointer import plots, problems

    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    rotated = np.array([2, 3, 0, 1])  # the optimal tour from another start: not "differs"
    crossed = np.array([0, 2, 1, 3])
    fig = plots.polygons([square, square], [rotated, crossed], [np.arange(4), np.arange(4)], closed=True, title="tsp",
                         length=problems.tour_length)
    left = [ax for ax in fig.axes[::2]]
    assert left[0].get_ylabel() == "gap +0.0%" and left[0].get_title() == "model: 4.000"
    assert left[1].get_ylabel().startswith("gap +") and left[1].get_ylabel() != "gap +0.0%"
    assert fig.axes[1].get_title() == "optimal: 4.000"


def test_a_long_title_is_wrapped_not_cut():
    from keras_recurrent.tasks.video import plots

    frames = np.zeros((1, 3, 8, 8, 1))
    title = "video / convlstm_encoder_forecaster: input, truth, prediction"
    fig = plots.strips(frames, frames[:, :2], frames[:, :2], title)
    shown = fig._suptitle.get_text()
    assert "\n" in shown and shown.replace("\n", " ") == title
