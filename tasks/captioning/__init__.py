"""Image captioning (`captioning`): a CNN encoder, a bidirectional LSTM over its feature grid and an attention
decoder write a sentence about an image (after Xu et al., "Show, Attend and Tell", ICML 2015).

images and captions (generated scenes of coloured shapes, a folder in the Flickr8k layout, or
tfds:coco_captions) -> vocabulary -> the model trained with teacher forcing on every (image, caption) pair
-> greedy decoding or beam search -> corpus BLEU-1..4 against every reference (nltk), exact match on the
scenes, beside two baselines (the most frequent training caption; the caption of the nearest training image
in the encoder's feature space) -> a grid of images with their captions and attention maps per word.

Scenes: the `test` split holds colour-shape pairs never seen in training (compositional generalisation);
`test_seen` scenes are drawn like the training ones, for comparison.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.base import Compile, ModelRegistry, Task, TaskData, UserError, hparam
from keras_recurrent.tasks.captioning import decoding, scenes, sources
from keras_recurrent.tasks.captioning.decoding import END, START
from keras_recurrent.tasks.captioning.models import MODELS, CaptioningModel

SPECIALS = ["<pad>", "<unk>", "<start>", "<end>"]
SCENE_SIZE, PHOTO_SIZE = 64, 128


@dataclass
class CaptioningData:
    """Section `data` of the captioning task."""

    image_size: int = hparam(0, help="rows and columns every image is resized to; 0: 64 for the generated scenes, "
                                     "128 for photographs", min=0)
    max_length: int = hparam(20, help="words a caption may have (longer training captions are cut)", min=2)
    min_count: int = hparam(2, help="words seen fewer times in the training captions become <unk>", min=1)
    num_images: int = hparam(3000, help="scenes: training images", min=1)
    held_out: int = hparam(300, help="scenes: validation images, and test images of each test split", min=1)
    max_shapes: int = hparam(3, help="scenes: at most this many shapes in an image", min=1, max=3)
    captions_file: str = hparam("", help="Flickr8k layout: the captions file to read, when the folder holds several")
    encoding: str = hparam("utf-8", help="text encoding of the captions file")
    tfds_dir: str = hparam("", help="tfds:coco_captions: a directory holding the prepared data set")
    max_images: int = hparam(5000, help="tfds:coco_captions: at most this many images of each split", min=1)


def _image_size(spec, config: CaptioningData) -> int:
    return config.image_size or (PHOTO_SIZE if spec else SCENE_SIZE)


def words_of(caption: str, max_length: int | None = None) -> list[str]:
    words = sources.tokenize(caption)
    return words[:max_length] if max_length else words


def _tokenized(split: sources.Split) -> list[list[list[str]]]:
    """Every image's references as word lists (whole: references are never cut to data.max_length)."""
    return [[words_of(r) for r in refs] for refs in split.references]


class CaptioningTask(Task):
    name = "captioning"
    description = "image captioning: CNN + BiLSTM encoder, attention LSTM decoder, beam search (BLEU-1..4)"
    data_sources = (
        "(none): generated scenes of one to three coloured shapes with captions in varied wording; the test split "
        "holds colour-shape pairs never seen in training",
        "DIR: the Flickr8k layout: images anywhere under DIR and a captions file (Flickr8k.token.txt, IMAGE#N<TAB>"
        "CAPTION lines, or captions.txt / .csv with columns image,caption); the official split files where present "
        "(Flickr_8k.trainImages.txt ...), else 80/10/10 by image. E.g. ../shared/data/flickr8k_subset",
        "tfds:coco_captions: MS-COCO with the Karpathy splits (data.max_images of each)",
    )
    DataConfig = CaptioningData
    ModelConfig = CaptioningModel
    models = ModelRegistry(MODELS, default="cnn_bilstm",
                           train={"epochs": 30, "batch_size": 64, "learning_rate": 2e-3, "patience": 4})
    headline = "bleu_4"
    quick = {"data.image_size": 16, "data.num_images": 24, "data.held_out": 6, "data.max_shapes": 2,
             "data.max_length": 12, "data.min_count": 1, "model.filters": 4, "model.grid": 4, "model.encoder_units": 8,
             "model.units": 16, "model.embedding_dim": 8, "model.beam_width": 1, "train.epochs": 1}
    tunable = {"model.units": [128, 256], "model.dropout": (0.0, 0.5), "train.learning_rate": (5e-4, 5e-3, "log")}

    # -- data -------------------------------------------------------------------------------------

    def read(self, spec, config: CaptioningData, seed: int, size: int) -> tuple[dict, dict]:
        """({split: sources.Split}, facts about the source for data_info), images of size x size."""
        if not spec:
            counts = {"train": config.num_images, "validation": config.held_out, "test": config.held_out,
                      "test_seen": config.held_out}
            splits = {}
            for split, count in counts.items():
                made = [scenes.scene(seed, split, i, size, config.max_shapes) for i in range(count)]
                splits[split] = sources.Split(np.stack([m[0] for m in made]) if made else np.zeros((0, size, size, 3), np.uint8),
                                              [m[1] for m in made], [str(i) for i in range(len(made))])
            return splits, {"source": "generated scenes", "held_out_pairs": sorted(" ".join(p) for p in scenes.HELD_OUT)}
        if spec.startswith("tfds:"):
            return sources.read_tfds(spec[len("tfds:"):], size, config.tfds_dir, config.max_images), {"source": spec}
        splits, facts = sources.read_flickr(spec, size, seed, config.encoding, captions_file=config.captions_file)
        return splits, {"source": spec, **facts}

    def load(self, spec, config: CaptioningData, seed: int, run_info=None) -> TaskData:
        # Every split, also with a run's info: the baselines beside the model's scores need the training images
        # and captions.
        import tensorflow as tf

        size = _image_size(spec, config)
        splits, facts = self.read(spec, config, seed, size)
        if run_info is None:
            counts = Counter(w for refs in splits["train"].references for r in refs for w in words_of(r, config.max_length))
            vocabulary = SPECIALS + sorted(w for w, c in counts.items() if c >= config.min_count)
        else:
            vocabulary = run_info["vocabulary"]
        info = {**facts, "vocabulary": vocabulary, "image_size": size, "max_length": config.max_length,
                "sizes": {k: len(v.references) for k, v in splits.items()}}
        index = {w: i for i, w in enumerate(vocabulary)}
        steps = config.max_length + 1

        def pairs(split: sources.Split):
            """Every (image, caption) pair: image index, words in (<start> w...), words out (w... <end>), weights."""
            image_of, words_in, words_out = [], [], []
            for i, refs in enumerate(split.references):
                for caption in refs:
                    ids = [index.get(w, 1) for w in words_of(caption, config.max_length)]
                    row_in, row_out = np.zeros(steps, np.int32), np.zeros(steps, np.int32)
                    row_in[: len(ids) + 1] = [START, *ids]
                    row_out[: len(ids) + 1] = [*ids, END]
                    image_of.append(i)
                    words_in.append(row_in)
                    words_out.append(row_out)
            return (np.array(image_of, np.int64), np.array(words_in, np.int32).reshape(-1, steps),
                    np.array(words_out, np.int32).reshape(-1, steps))

        def by_index(split: sources.Split):
            image_of, words_in, words_out = pairs(split)
            images = tf.constant(split.images)
            image_of, words_in, words_out = (tf.constant(a) for a in (image_of, words_in, words_out))

            def element(i):
                image = tf.cast(tf.gather(images, tf.gather(image_of, i)), tf.float32) / 255.0
                target = tf.gather(words_out, i)
                return (image, tf.gather(words_in, i)), target, tf.cast(target > 0, tf.float32)
            return int(image_of.shape[0]), element

        datasets, train_elements = [], None
        for name in ("train", "validation", "test"):
            count, element = by_index(splits[name])
            datasets.append(tf.data.Dataset.range(count).map(element))
            if name == "train":
                train_elements = (count, element)
        extras = {"splits": splits}
        return TaskData(*datasets, info=info, extras=extras, train_elements=train_elements)

    def compatible_info(self, run_info, new_info):
        for key in ("image_size", "max_length"):
            if run_info[key] != new_info[key]:
                return f"data.{key}={new_info[key]}: the model was trained with {run_info[key]}"
        return None  # the run's vocabulary is applied to the new captions (load with run_info)

    def compile(self, info):
        import keras

        # The accuracy of the caption's words and its <end>: the weights mark them.
        return Compile(keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       weighted_metrics=["sparse_categorical_accuracy"])

    # -- results ----------------------------------------------------------------------------------
    def caption(self, model, images, info, beam_width: int) -> list[list[str]]:
        """Captions of at most `data.max_length` words: the decoder has one step more, for the <end> that
        follows a longest caption, and a caption that never ends is cut there (it wrote 13 words at 12)."""
        vocabulary, longest = info["vocabulary"], info["max_length"]
        ids = decoding.beam_search(model, images, beam_width)
        return [[vocabulary[i] for i in row[:longest]] for row in ids]

    def evaluate(self, model, data: TaskData, config) -> dict:
        from keras_recurrent.tasks.captioning import metrics as m

        beam = config.model.beam_width if config is not None else 1
        splits, info = data.extras["splits"], data.info
        test = splits["test"]
        if not test.references:
            raise UserError("the test split holds no image to caption")
        references = _tokenized(test)
        hypotheses = self.caption(model, test.images, info, beam)
        result = {"test_images": len(references), "decoding": "greedy" if beam <= 1 else f"beam search (width {beam})",
                  **m.scores(hypotheses, references)}
        # How much the captions depend on the image: 1 = every test image got its own sentence.
        result["distinct_captions"] = len({tuple(h) for h in hypotheses}) / len(hypotheses)
        if beam > 1:
            greedy = self.caption(model, test.images, info, 1)
            result["greedy"] = m.scores(greedy, references)
        if "test_seen" in splits:  # the generated scenes' in-distribution test split
            seen = splits["test_seen"]
            result["test_seen"] = m.scores(self.caption(model, seen.images, info, beam), _tokenized(seen))
        frequent = m.most_frequent_caption(_tokenized(splits["train"]))
        neighbours = m.nearest_training_captions(model, splits["train"], test.images)
        result["baselines"] = {"most_frequent_caption": m.scores([frequent] * len(references), references),
                               "nearest_training_image": m.scores(neighbours, references)}
        data.extras["hypotheses"] = hypotheses
        return result

    def plots(self, model, data: TaskData, config) -> dict:
        from keras_recurrent.tasks.captioning import plots

        test = data.extras["splits"]["test"]
        shown = min(8, len(test.references))
        hypotheses = data.extras["hypotheses"]  # written by evaluate, which the pipeline runs first
        figures = {"captions": plots.caption_grid(test.images[:shown], hypotheses[:shown],
                                                  [refs[0] for refs in test.references[:shown]], f"captioning / {config.model_name}")}
        ids, attention = decoding.greedy(model, test.images[:2])
        if attention is not None:
            words = [[data.info["vocabulary"][i] for i in row] + ["<end>"] for row in ids]
            figures["attention"] = plots.attention_maps(test.images[:2], words, attention)
        return figures

    # -- export -----------------------------------------------------------------------------------
    def endpoints(self, model, info):
        """`caption`: images (batch, size, size, 3) uint8 -> {"caption": strings, "tokens": ids}, greedy decoding
        as a `tf.while_loop` in the exported graph (the vocabulary a constant in it). Its TFLite model keeps
        `tokens` (ids, 0 after `<end>`; the words are `data_info.json`'s vocabulary)."""
        import tensorflow as tf

        from keras_recurrent.tasks.base import Endpoint

        encoder, decoder = decoding.parts(model)
        size, steps = info["image_size"], info["max_length"] + 1
        vocabulary = tf.constant(info["vocabulary"])
        never = tf.constant([-1e9 if i in decoding.NEVER_WRITTEN else 0.0 for i in range(len(info["vocabulary"]))])

        def caption(images):
            keys, state = encoder(tf.cast(images, tf.float32) / 255.0, training=False)
            n = tf.shape(images)[0]
            words = tf.zeros([n, steps], tf.int32) + START * tf.one_hot(0, steps, dtype=tf.int32)[None]
            chosen = tf.zeros([n, steps], tf.int32)

            def step(t, words, chosen):
                outputs = decoder([keys, state, words], training=False)
                logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
                word = tf.argmax(tf.gather(logits, t, axis=1) + never, axis=-1, output_type=tf.int32)
                chosen += word[:, None] * tf.one_hot(t, steps, dtype=tf.int32)[None]
                words += word[:, None] * tf.one_hot(t + 1, steps, dtype=tf.int32)[None]  # none past the end
                return t + 1, words, chosen

            _, _, chosen = tf.while_loop(lambda t, *_: t < steps, step, [tf.constant(0), words, chosen])
            ids = tf.where(tf.cumsum(tf.cast(chosen == END, tf.int32), axis=1) > 0, 0, chosen)  # cut at <end>
            text = tf.strings.reduce_join(tf.ragged.boolean_mask(tf.gather(vocabulary, ids), ids > 0), axis=1, separator=" ")
            return {"caption": text, "tokens": ids}

        def examples(inputs):
            return [np.round(np.asarray(inputs[0]) * 255.0).astype(np.uint8)]

        def reference(images):
            ids, _ = decoding.greedy(model, images)
            tokens = np.zeros((len(ids), steps), np.int32)
            for row, caption in zip(tokens, ids):
                row[: len(caption)] = caption
            return {"tokens": tokens, "caption": np.array([" ".join(info["vocabulary"][i] for i in c) for c in ids], object)}

        # Greedy decoding in Python runs the decoder on batches of another size: a near tie of two words'
        # logits may go the other way on a few examples.
        return [Endpoint("caption", caption, [tf.TensorSpec((None, size, size, 3), tf.uint8, name="images")], examples,
                         reference, exact=True, agreement_needed=0.9, tflite_outputs=("tokens",))]

    # -- predict ----------------------------------------------------------------------------------
    def predict_examples(self, info):
        """One generated scene written once as a PNG to the temporary directory."""
        import tempfile

        from PIL import Image

        size = info["image_size"]
        path = os.path.join(tempfile.gettempdir(), f"keras_recurrent_captioning_example_{size}.png")
        if not os.path.isfile(path):
            image, _, _ = scenes.scene(0, "train", 0, size, 2)
            partial = f"{path}.{os.getpid()}.tmp.png"
            Image.fromarray(image).save(partial)
            os.replace(partial, path)
        return [path]

    def predict(self, model, inputs, info, config=None):
        """Each input is an image file (any mode PIL reads: grey and RGBA are converted); every file is read and
        checked before any is captioned."""
        images = np.stack([sources.read_image(path, info["image_size"]) for path in inputs])
        beam = config.model.beam_width if config is not None else 1
        captions = self.caption(model, images, info, beam)
        return [{"image": path, "caption": " ".join(words)} for path, words in zip(inputs, captions)]

    def format_prediction(self, row: dict) -> str:
        return f"{row['image']}\t{row['caption']}"


__all__ = ["CaptioningTask", "words_of"]
