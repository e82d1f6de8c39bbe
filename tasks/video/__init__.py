"""Next-frame video prediction (`video`): read `input_frames` frames, predict the next `output_frames`,
the task of the ConvLSTM paper (Shi, Chen, Wang, Yeung, Wong & Woo, NeurIPS 2015).

clips (moving digits generated from the seed, Moving MNIST through tensorflow-datasets, or a directory
of .npy / .npz / .gif clips) -> ConvLSTM encoder-forecaster (default), stacked ConvLSTM2D, or the paper's
FC-LSTM -> per-frame MSE, PSNR, SSIM and cross-entropy beside the copy-the-last-frame baseline -> strips
of input / truth / prediction, the scores by future frame, and animations.

Horizons longer than trained: `recurrent evaluate RUN --set data.output_frames=20` rolls the model out
on its own predictions (`models.rollout`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks import files
from keras_recurrent.tasks.base import Compile, ModelRegistry, Task, TaskData, UserError, hparam
from keras_recurrent.tasks.files import OutputFile
from keras_recurrent.tasks.video import digits, sources
from keras_recurrent.tasks.video.models import MODELS, VideoModel, rollout


@dataclass
class VideoData:
    """Section `data` of the video task."""

    input_frames: int = hparam(10, help="frames the model reads", min=1)
    output_frames: int = hparam(10, help="future frames it predicts (evaluate with more: rolled out)", min=1)
    frame_size: int = hparam(64, help="moving digits: rows and columns of the canvas", min=8)
    digits: int = hparam(2, help="moving digits: digits in each clip", min=1, max=10)
    digit_size: int = hparam(28, help="moving digits: rows and columns of a digit", min=4)
    speed: float = hparam(3.0, help="moving digits: pixels a digit moves each frame", min=0.0)
    num_examples: int = hparam(4000, help="moving digits: training clips (generated as needed, never all held)", min=1)
    held_out: int = hparam(200, help="moving digits: validation clips, and test clips", min=1)
    tfds_dir: str = hparam("", help="tfds:moving_mnist: a directory holding the prepared data set")


class VideoTask(Task):
    name = "video"
    description = "next-frame video prediction: ConvLSTM encoder-forecaster, ConvLSTM2D, FC-LSTM (MSE, SSIM by frame)"
    data_sources = (
        "(none): moving digits from scikit-learn's handwritten digits, bouncing in a square (Moving MNIST dynamics)",
        "tfds:moving_mnist: 10,000 clips of 20 frames at 64x64 (split 80/10/10 here; tfds has only a test split)",
        "DIR: .npy / .npz arrays (frames x rows x columns [x channels]) or .gif files, one clip a file "
        "(split 80/10/10 by clip)",
    )
    DataConfig = VideoData
    ModelConfig = VideoModel
    models = ModelRegistry(MODELS, default="convlstm",
                           train={"epochs": 20, "batch_size": 16, "learning_rate": 1e-3, "patience": 4})
    headline = "mse"
    quick = {"data.frame_size": 16, "data.digit_size": 8, "data.digits": 1, "data.input_frames": 3,
             "data.output_frames": 2, "data.num_examples": 32, "data.held_out": 8, "model.filters": 4,
             "model.num_layers": 1, "model.units": 8, "train.epochs": 1}
    tunable = {"model.filters": [16, 32, 64], "model.kernel_size": [3, 5], "train.learning_rate": (3e-4, 3e-3, "log")}

    # -- data -------------------------------------------------------------------------------------
    def load(self, spec, config: VideoData, seed: int, run_info=None) -> TaskData:
        # Evaluating a run (a longer horizon, or for export) needs its test split alone.
        wanted = ("test",) if run_info is not None else ("train", "validation", "test")
        import tensorflow as tf

        length = config.input_frames + config.output_frames
        if not spec:
            if config.digit_size > config.frame_size:
                raise UserError(f"data.digit_size={config.digit_size} exceeds data.frame_size={config.frame_size}")
            shape = (config.frame_size, config.frame_size, 1)
            sizes = {"train": config.num_examples, "validation": config.held_out, "test": config.held_out}
            sizes = {k: (v if k in wanted else 0) for k, v in sizes.items()}

            def by_index(split):
                def make(i):
                    return digits.clip(seed, split, int(i), length, config.frame_size, config.digits, config.speed,
                                       config.digit_size)

                def element(i):
                    frames = tf.numpy_function(make, [i], tf.float32, stateful=False)
                    frames = tf.ensure_shape(frames, (length, *shape))
                    return frames[:config.input_frames], frames[config.input_frames:]
                return element

            splits = [tf.data.Dataset.range(sizes[s]).map(by_index(s)) for s in ("train", "validation", "test")]
            info = {"source": "moving digits", "frame_shape": list(shape)}
            train_elements = (sizes["train"], by_index("train"))
        else:
            if spec.startswith("tfds:"):
                clips = sources.read_tfds(spec[len("tfds:"):], config.tfds_dir)
            elif os.path.isdir(spec):
                clips = sources.read_directory(spec)
            else:
                raise UserError(f"--data {spec}: not a directory of clips nor tfds:moving_mnist")
            usable = [c for c in clips if len(c) >= length]
            if not usable:
                raise UserError(f"--data {spec}: the longest clip has {max(len(c) for c in clips)} frames; the model "
                                f"needs {length} (data.input_frames + data.output_frames)")
            if len(usable) < 3 and "train" in wanted:
                raise UserError(f"--data {spec}: {len(usable)} clip(s) of {length} frames or more; training needs at "
                                f"least 3 (split by clip into training, validation and test)")
            # By clip, so windows of one clip never land on both sides; at least one clip each for
            # validation and test.
            order = np.random.default_rng(seed).permutation(len(usable))
            held = max(1, int(round(0.1 * len(usable))))
            parts = {"test": order[:held], "validation": order[held:2 * held], "train": order[2 * held:]}
            shape = usable[0].shape[1:]
            splits = []
            for name in ("train", "validation", "test"):
                chosen = [usable[i] for i in parts[name]] if name in wanted else []
                if not chosen and name in wanted:
                    chosen = usable  # evaluation of fewer than 3 clips: all of them are the test split
                cut = (sources.windows(chosen, length) if chosen
                       else np.zeros((0, length, *shape), np.float32))
                splits.append(tf.data.Dataset.from_tensor_slices((cut[:, :config.input_frames], cut[:, config.input_frames:])))
            info = {"source": spec, "frame_shape": list(shape)}
            train_elements = None
        info.update(input_frames=config.input_frames, output_frames=config.output_frames)
        return TaskData(*splits, info=info, train_elements=train_elements)

    def compatible_info(self, run_info, new_info):
        if run_info["frame_shape"] != new_info["frame_shape"]:
            return f"frames of {new_info['frame_shape']}: the model reads frames of {run_info['frame_shape']}"
        if new_info["input_frames"] < run_info["input_frames"]:
            return f"data.input_frames={new_info['input_frames']}: the model reads {run_info['input_frames']} frames"
        return None  # more output frames: rolled out

    def compile(self, info):
        import keras

        loss = keras.losses.MeanSquaredError() if info.get("loss") == "mse" else keras.losses.BinaryCrossentropy()
        return Compile(loss, ["mse"])

    # -- results ----------------------------------------------------------------------------------
    def _predict_test(self, model, data: TaskData):
        """Streams the test split: the model's scores and the copy-last-frame baseline's, and a few clips."""
        from keras_recurrent.tasks.video.metrics import FrameScores

        model_scores, copy_scores, kept = FrameScores(), FrameScores(), None
        for inputs, future in data.test.batch(16).as_numpy_iterator():
            predicted = rollout(model, inputs, future.shape[1])
            model_scores.add(future, predicted)
            copy_scores.add(future, np.repeat(inputs[:, -1:], future.shape[1], axis=1))
            if kept is None:
                kept = (inputs[:3], future[:3], predicted[:3])
        return model_scores, copy_scores, kept

    def evaluate(self, model, data: TaskData, config) -> dict:
        model_scores, copy_scores, kept = self._predict_test(model, data)
        if model_scores.count == 0:
            raise UserError("the test split holds no clip to evaluate")
        data.extras.update(scores=model_scores, copy=copy_scores, kept=kept)
        return {
            "test_clips": model_scores.count,
            **model_scores.summary(),
            "by_frame": model_scores.by_frame(),
            "baselines": {"copy_last_frame": {**copy_scores.summary(), "by_frame": copy_scores.by_frame()}},
        }

    def plots(self, model, data: TaskData, config) -> dict:
        """Strips and scores by frame (figures), and each kept clip as a moving picture (frames: a GIF)."""
        from keras_recurrent.tasks.video import plots

        inputs, future, predicted = data.extras["kept"]  # kept by evaluate, which the pipeline runs first
        title = f"video / {config.model_name}"
        return {
            "frames": plots.strips(inputs, future, predicted, f"{title}: input, truth, prediction"),
            "scores_by_frame": plots.scores_by_frame(data.extras["scores"].by_frame(),
                                                     {"copy_last_frame": data.extras["copy"].by_frame()}, title),
            **{f"clip_{i + 1}": plots.side_by_side(inputs[i], future[i], predicted[i]) for i in range(len(inputs))},
        }

    # -- predict ----------------------------------------------------------------------------------
    def predict_examples(self, info):
        """One clip file of the run's frame size: moving digits written once to the temporary directory."""
        import tempfile

        rows, columns, channels = info["frame_shape"]
        path = os.path.join(tempfile.gettempdir(), f"keras_recurrent_video_example_{rows}x{columns}x{channels}.npy")
        if not os.path.isfile(path):
            size = max(rows, columns)
            frames = digits.clip(0, "test", 0, info["input_frames"], size, 1, speed=size / 16.0, digit_size=max(4, size // 2))
            files.write_array(path, np.repeat(frames[:, :rows, :columns], channels, axis=-1))
        return [path]

    def predict(self, model, inputs, info, config=None):
        """Each input is a clip file (.npy, .npz or .gif) of at least `input_frames` frames of the run's size;
        the model predicts what follows its last `input_frames` frames, returned as two files to write:
        CLIP.predicted.npy (every clip of the file) and CLIP.predicted.gif (the first, after its input); the
        pipeline chooses their paths (`pipelines.outputs`). Every file is read and checked first."""
        wanted, read = list(info["frame_shape"]), []
        for path in inputs:
            if not os.path.isfile(path):
                raise UserError(f"{path}: no such clip file")
            clips = sources.read_clip(path, wanted[-1])
            for clip in clips:
                if list(clip.shape[1:]) != wanted:
                    raise UserError(f"{path}: frames of {'x'.join(map(str, clip.shape[1:]))}; the model reads "
                                    f"{'x'.join(map(str, wanted))}")
                if len(clip) < info["input_frames"]:
                    raise UserError(f"{path}: {len(clip)} frames; the model reads {info['input_frames']}")
            read.append((path, clips))
        rows = []
        for path, clips in read:
            predicted = rollout(model, np.stack([c[-info["input_frames"]:] for c in clips]), info["output_frames"])
            array = predicted if len(clips) > 1 else predicted[0]
            shown = np.concatenate([clips[0][-info["input_frames"]:], predicted[0]])
            # The pipeline names and writes them (a fresh name beside the clip, or --output-dir): never over a user's file.
            rows.append({"clip": path, "frames_predicted": int(info["output_frames"]),
                         "npy": OutputFile(path, ".predicted.npy", lambda target, a=array: files.write_array(target, a)),
                         "gif": OutputFile(path, ".predicted.gif", lambda target, f=shown: files.save_gif(f, target))})
        return rows


__all__ = ["VideoTask"]
