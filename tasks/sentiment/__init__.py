"""Sentiment classification: text in, positive / negative out.

data -> TextVectorization adapted on the training split only -> embedding (padding masked) ->
stacked recurrent encoder -> dropout -> sigmoid unit. Metrics: accuracy and F1 beside a TF-IDF +
logistic-regression bag-of-words baseline trained on the same split.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from keras_recurrent.layers import MaskedGlobalMaxPooling1D
from keras_recurrent.tasks.bpe import BytePairSplit, learn_merges, subword_symbols
from keras_recurrent.tasks.base import Compile, Endpoint, ModelRegistry, Schedule, Task, TaskData, UserError, hparam
from keras_recurrent.tasks.encoders import RECURRENT_ENCODERS, stacked_encoder
from keras_recurrent.tasks.sentiment import data as sdata
from keras_recurrent.tasks.sentiment.corpus import NEGATION


@dataclass
class SentimentData:
    """Section `data` of the sentiment task."""

    text_column: str = hparam("text", help="CSV/TSV column holding the text")
    label_column: str = hparam("label", help="CSV/TSV column holding the two-class label")
    encoding: str = hparam("utf-8", help="text encoding of files (the polarity data is cp1252)")
    num_examples: int = hparam(6000, help="size of the embedded generated corpus", min=10)
    negation: float = hparam(NEGATION, help="embedded corpus: probability that a clause is negated (at 0.5 no single "
                             "word predicts the label, and the first epoch stays at chance)", min=0.0, max=1.0)
    max_examples: int = hparam(0, help="use at most this many examples of a source, drawn at random; 0 = all", min=0)
    validation_fraction: float = hparam(0.1, help="share of training examples held out for validation", min=0.01, max=0.5)
    test_fraction: float = hparam(0.1, help="share held out for test where the source has no test split", min=0.01, max=0.5)
    tokens: str = hparam("words", help="what a token is: words (lower-cased, punctuation stripped), characters "
                                       "(lower-cased, punctuation kept: the model reads spelling), or bpe: subwords "
                                       "learned from the training texts (rare words split into known pieces)",
                         choices=("words", "chars", "bpe"))
    bpe_merges: int = hparam(4000, help="data.tokens=bpe: byte-pair merges learned from the training texts (the "
                                        "subword vocabulary is about this many plus the characters)", min=1)
    max_tokens: int = hparam(20000, help="vocabulary size, padding and out-of-vocabulary included", min=3)
    sequence_length: int = hparam(0, help="tokens kept per text; 0 = 95th percentile of training lengths (at most 256 "
                                          "words or 1024 characters)", min=0)
    tfds_dir: str = hparam("", help="tensorflow-datasets data_dir; empty = its default")
    unlabeled: str = hparam("", help="a file of unlabeled texts, one a line, for model.pretrain_epochs (they join "
                                     "the vocabulary); empty = pretrain on the training texts only")


@dataclass
class SentimentModel:
    """Section `model` of the sentiment task."""

    embedding_dim: int = hparam(64, help="token embedding width", min=1)
    units: int = hparam(64, help="recurrent units per layer (per direction for bidirectional models)", min=1)
    num_layers: int = hparam(1, help="stacked recurrent layers", min=1)
    dropout: float = hparam(0.3, help="dropout on the recurrent inputs and before the classifier", min=0.0, max=0.95)
    embedding_dropout: float = hparam(0.0, help="drop whole word vectors (word dropout), one draw per token",
                                      min=0.0, max=0.95)
    embeddings: str = hparam("", help="pretrained word vectors: glove.6B.50d|100d|200d|300d or fasttext.en.300d "
                                      "(fetched on first use into the Keras cache), or a local GloVe / word2vec / "
                                      "fastText text or word2vec .bin file; empty = learned from scratch")
    train_embeddings: bool = hparam(True, help="fine-tune the pretrained vectors (false: keep them frozen)")
    pretrain_epochs: int = hparam(0, help="epochs of language-model pretraining of the embedding and encoder on the "
                                          "training (and data.unlabeled) texts before fine-tuning; 0 = none", min=0)
    pretrain_vocabulary: int = hparam(2000, help="most frequent tokens the pretraining language model predicts "
                                                 "(the rest as out-of-vocabulary)", min=3)
    pooling: str = hparam("max", help="sentence vector: the last state, or the max / mean over all (unpadded) states",
                          choices=("last", "max", "mean"))


def build_classifier(kind: str):
    """A builder for the model registry: embedding -> `kind` encoder -> sigmoid head."""

    def build(config: SentimentModel, info: dict):
        import keras

        tokens = keras.Input(shape=(info["sequence_length"],), dtype="int32", name="tokens")
        embedding = keras.layers.Embedding(len(info["vocabulary"]), config.embedding_dim, mask_zero=True,
                                           name="embedding", trainable=config.train_embeddings or not config.embeddings)
        x = embedding(tokens)
        if config.embeddings:
            from keras_recurrent.tasks.vectors import aligned_vectors

            matrix, coverage = aligned_vectors(config.embeddings, info["vocabulary"], config.embedding_dim)
            embedding.set_weights([matrix])
            info["embeddings"] = coverage  # lands in the run's data_info.json
        if config.embedding_dropout:
            # noise shape (batch, time, 1): a dropped token loses its whole vector, not single coordinates.
            x = keras.layers.Dropout(config.embedding_dropout, noise_shape=(None, info["sequence_length"], 1),
                                     name="word_dropout")(x)
        x = stacked_encoder(kind, x, config.units, config.num_layers, config.dropout,
                            return_sequences=config.pooling != "last")
        if config.pooling == "max":
            x = MaskedGlobalMaxPooling1D(name="max_over_time")(x)
        elif config.pooling == "mean":
            x = keras.layers.GlobalAveragePooling1D(name="mean_over_time")(x)  # honours the mask
        x = keras.layers.Dropout(config.dropout, name="head_dropout")(x)
        probability = keras.layers.Dense(1, activation="sigmoid", name="positive_probability")(x)
        return keras.Model(tokens, probability, name=f"sentiment_{kind}")

    build.__doc__ = f"Embedding, {kind} encoder, sigmoid classifier."
    return build


# How `data.tokens` splits a text: TextVectorization options, all of them TensorFlow ops, so the exported
# raw-text endpoint splits as training did. Characters keep punctuation ("!", ":)") and case-folded spelling.
TOKENIZERS = {
    "words": {"standardize": "lower_and_strip_punctuation", "split": "whitespace"},
    "chars": {"standardize": "lower", "split": "character"},
    "bpe": {"standardize": "lower_and_strip_punctuation"},  # split: the run's BytePairSplit
}
LENGTH_CAP = {"words": 256, "chars": 1024, "bpe": 384}
# What TextVectorization's lower_and_strip_punctuation removes (its source): the words BPE learns from.
STRIPPED = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def _tokenizer(info: dict) -> dict:
    options = dict(TOKENIZERS[info.get("tokens", "words")])  # runs made before data.tokens read words
    if info.get("tokens") == "bpe":
        options["split"] = BytePairSplit(info["merges"], info.get("bpe_words", ()))
    return options


def standardized_words(texts) -> Counter:
    """{word: count} of `texts` as TextVectorization's lower_and_strip_punctuation and whitespace split see them."""
    import tensorflow as tf

    counts: Counter = Counter()
    for start in range(0, len(texts), 4096):
        clean = tf.strings.regex_replace(tf.strings.lower(tf.constant(texts[start:start + 4096], tf.string)), STRIPPED, "")
        counts.update(w.decode("utf-8") for w in tf.strings.split(clean).flat_values.numpy())
    return counts


def make_vectorizer(info: dict):
    """The TextVectorization of a run, rebuilt from the vocabulary saved in its data_info."""
    import keras

    return keras.layers.TextVectorization(
        vocabulary=info["vocabulary"][2:],  # the saved list starts with the padding "" and "[UNK]"
        output_mode="int",
        output_sequence_length=info["sequence_length"],
        **_tokenizer(info),
    )


def _trackables(vectorize):
    """What an export must save for `vectorize` to run: its vocabulary, and a BPE split's table of words."""
    import tensorflow as tf

    split = getattr(vectorize, "_split", None)
    if not isinstance(split, BytePairSplit):
        return vectorize
    holder = tf.Module()
    holder.vectorize, holder.subwords = vectorize, split.resources
    return holder


def to_ids(vectorize, texts) -> np.ndarray:
    """Token ids (texts, sequence_length) of a list of texts through a run's TextVectorization."""
    return np.asarray(vectorize(np.asarray(texts, dtype=object)), dtype="int32")


def _as_dataset(ids: np.ndarray, labels: list[int]):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((ids, np.asarray(labels, dtype="float32")))


def bag_of_words_baseline(train, test, ngram_range=(1, 1)) -> dict:
    """TF-IDF + logistic regression (scikit-learn), trained on `train`, scored on `test`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    vectorizer = TfidfVectorizer(ngram_range=ngram_range, min_df=1, sublinear_tf=True)
    classifier = LogisticRegression(max_iter=2000, C=4.0)
    classifier.fit(vectorizer.fit_transform(train[0]), train[1])
    predicted = classifier.predict(vectorizer.transform(test[0]))
    return {"accuracy": float(accuracy_score(test[1], predicted)), "f1": float(f1_score(test[1], predicted))}


class SentimentTask(Task):
    name = "sentiment"
    description = "Two-class sentiment of a text (positive / negative)"
    data_sources = (
        "(none): embedded generated reviews whose labels hinge on word order (negation, contrast, emphasis)",
        "tfds:imdb_reviews, tfds:glue/sst2: tensorflow-datasets",
        "DIR with pos/ and neg/ (or train/ and test/ holding them): the aclImdb layout",
        "DIR with *.pos and *.neg files, one text a line: the rt-polarity layout (--encoding cp1252)",
        "FILE.csv / FILE.tsv: set data.text_column and data.label_column",
    )
    DataConfig = SentimentData
    ModelConfig = SentimentModel
    # Measured on the embedded corpus (seeds 1 and 2, see benchmarks/README.md): at Adam's 1e-3 with batch
    # 64 and last-state pooling the BiGRU sat at chance for 3-9 epochs; 3e-3, batch 32 and max-pooling
    # put it at 94% after epoch 2. Early stopping (patience 3, best epoch kept) guards the faster rate.
    models = ModelRegistry({kind: build_classifier(kind) for kind in RECURRENT_ENCODERS}, default="bigru",
                           train={"learning_rate": 3e-3, "batch_size": 32})
    headline = "accuracy"
    tunable = {
        "model.units": [32, 64, 128],
        "model.embedding_dim": [32, 64, 128],
        "model.dropout": (0.0, 0.6),
        "model.pooling": ["last", "max", "mean"],
        "train.learning_rate": (3e-4, 3e-3, "log"),
        "train.batch_size": [32, 64],
    }
    quick = {
        "data.num_examples": 400,
        "data.max_examples": 400,
        "data.max_tokens": 2000,
        "model.embedding_dim": 16,
        "model.units": 16,
        "train.epochs": 1,
        "train.batch_size": 32,
    }

    def compatible_info(self, run_info, new_info):
        for key in ("vocabulary", "sequence_length", "labels", "tokens", "merges"):
            if run_info.get(key) != new_info.get(key):
                return f"the data's {key} differs from the run's"
        return None

    def load(self, spec, config: SentimentData, seed: int, run_info=None) -> TaskData:
        # With a run's info, another dataset is read through the run's own vocabulary and length, as the
        # model was trained.
        import keras

        source = sdata.read_source(spec, config, seed)
        if config.max_examples:
            rng = np.random.default_rng(seed)
            source.train = sdata.random_subset(source.train, config.max_examples, rng)
            if source.test is not None:
                # At random, not the first rows: directory sources list one class after the other.
                source.test = sdata.random_subset(source.test, config.max_examples, rng)
        train, validation, test = sdata.split_examples(source, config, seed)
        if not test[0]:
            raise UserError(f"{source.source}: the test split is empty")

        unlabeled = sdata.read_unlabeled(config.unlabeled, config.encoding) if config.unlabeled and run_info is None else []
        if run_info is None:
            subwords = {}
            if config.tokens == "bpe":  # merges learned from the training (and unlabeled) words, by frequency
                word_counts = standardized_words(train[0] + unlabeled)
                subwords = {"merges": learn_merges(word_counts, config.bpe_merges), "bpe_words": sorted(word_counts)}
            adapter = keras.layers.TextVectorization(max_tokens=config.max_tokens, output_mode="int",
                                                     **_tokenizer({"tokens": config.tokens, **subwords}))
            # Unlabeled texts join the vocabulary: pretraining gives their words vectors the labels never reach.
            adapter.adapt(np.asarray(train[0] + unlabeled, dtype=object), batch_size=1024)
            train_array = np.asarray(train[0], dtype=object)
            counts = np.count_nonzero(np.asarray(adapter(train_array)), axis=1).tolist()
            vocabulary = [str(w) for w in adapter.get_vocabulary()]
            if subwords:  # every symbol an unseen word can be split into, not only those the training words end as
                extra = sorted(set(subword_symbols(subwords["bpe_words"], subwords["merges"])) - set(vocabulary))
                vocabulary += extra[:max(0, config.max_tokens - len(vocabulary))]
            learned = {"vocabulary": vocabulary,
                       "sequence_length": config.sequence_length or sdata.auto_sequence_length(
                           counts, LENGTH_CAP[config.tokens]),
                       "tokens": config.tokens, **subwords}
        else:
            learned = {key: run_info[key] for key in ("vocabulary", "sequence_length", "tokens", "merges", "bpe_words")
                       if key in run_info}
        info = {
            **learned,
            "labels": list(sdata.LABEL_NAMES),
            "source": source.source,
            "sizes": {"train": len(train[0]), "validation": len(validation[0]), "test": len(test[0])},
        }
        vectorize = make_vectorizer(info)

        ids = {"train": to_ids(vectorize, train[0]), "validation": to_ids(vectorize, validation[0])}
        return TaskData(
            train=_as_dataset(ids["train"], train[1]),
            validation=_as_dataset(ids["validation"], validation[1]),
            test=_as_dataset(to_ids(vectorize, test[0]), test[1]),
            info=info,
            # Pretraining reads the ids again, and the unlabeled texts, which it alone vectorises.
            extras={"train": train, "test": test, "ids": ids, "unlabeled": unlabeled},
        )

    def schedule(self, config):
        return Schedule(pretrain=self._pretrain if config.model.pretrain_epochs else None)

    def _pretrain(self, model, data: TaskData, config) -> dict | None:
        """Language-model pretraining of the embedding and the encoder (`model.pretrain_epochs`)."""
        from keras_recurrent.tasks import pretraining

        settings = config.model
        if not settings.pretrain_epochs:
            return None
        ids, unlabeled = data.extras["ids"], data.extras["unlabeled"]
        if unlabeled:
            texts_ids = np.concatenate([ids["train"], to_ids(make_vectorizer(data.info), unlabeled)])
        else:
            texts_ids = ids["train"]
        record = pretraining.pretrain(
            model, texts_ids, kind=config.model_name, make_encoder=stacked_encoder, units=settings.units,
            num_layers=settings.num_layers, dropout=settings.dropout, epochs=settings.pretrain_epochs,
            output_vocabulary=settings.pretrain_vocabulary, batch_size=config.train.batch_size,
            learning_rate=config.train.learning_rate, seed=config.train.seed,
            validation_ids=ids["validation"] if len(ids["validation"]) else None,
        )
        record["unlabeled_texts"] = len(unlabeled)
        return record

    def compile(self, info):
        return Compile("binary_crossentropy", ["accuracy"])

    def _test_predictions(self, model, data: TaskData):
        """(labels, probabilities) of the test split, computed once a model (evaluate, then plots)."""
        cached = data.extras.get("test_predictions")
        if cached is not None and cached[0] is model:
            return cached[1]
        ids = np.stack([x for x, _ in data.test.as_numpy_iterator()])
        probabilities = model.predict(ids, batch_size=256, verbose=0)[:, 0]
        data.extras["test_predictions"] = (model, (np.asarray(data.extras["test"][1]), probabilities))
        return data.extras["test_predictions"][1]

    def evaluate(self, model, data: TaskData, config) -> dict:
        from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

        truth, probabilities = self._test_predictions(model, data)
        predicted = (probabilities >= 0.5).astype(int)
        majority = int(np.mean(np.asarray(data.extras["train"][1])) >= 0.5)
        return {
            "test_examples": int(len(truth)),
            "accuracy": float(accuracy_score(truth, predicted)),
            "f1": float(f1_score(truth, predicted, zero_division=0)),
            "confusion_matrix": confusion_matrix(truth, predicted, labels=[0, 1]).tolist(),
            "baselines": {
                "majority_class": {"accuracy": float(np.mean(truth == majority))},
                "bag_of_words_logreg": bag_of_words_baseline(data.extras["train"], data.extras["test"]),
                "bigram_tfidf_logreg": bag_of_words_baseline(data.extras["train"], data.extras["test"], (1, 2)),
            },
        }

    def plots(self, model, data: TaskData, config) -> dict:
        import matplotlib.pyplot as plt
        from sklearn.metrics import ConfusionMatrixDisplay

        truth, probabilities = self._test_predictions(model, data)
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ConfusionMatrixDisplay.from_predictions(
            truth, (probabilities >= 0.5).astype(int), display_labels=list(sdata.LABEL_NAMES), ax=ax, colorbar=True
        )
        ax.set_title(f"sentiment / {config.model_name}\ntest confusion matrix", fontsize=10)
        fig.tight_layout()
        return {"confusion_matrix": fig}

    def predict(self, model, inputs, info, config=None) -> list[dict]:
        if not inputs:
            raise UserError("predict: give at least one text")
        ids = to_ids(make_vectorizer(info), inputs)
        probabilities = model.predict(ids, verbose=0)[:, 0]
        rows = []
        for text, p in zip(inputs, probabilities):
            label = int(p >= 0.5)
            rows.append({"label": info["labels"][label], "probability": round(float(p if label else 1 - p), 4), "text": text})
        return rows

    def predict_examples(self, info):
        return ["a moving, beautifully acted film", "dull, predictable and far too long"]

    def format_prediction(self, row: dict) -> str:
        return f"{row['label']:<9} {row['probability']:.3f}  {row['text']}"

    def endpoints(self, model, info):
        return [self._text_endpoint(model, info)]

    def _text_endpoint(self, model, info):
        """Raw strings in (`serve_text`), the model's probabilities out."""
        import tensorflow as tf

        vectorize = make_vectorizer(info)
        vectorize(np.asarray([""], dtype=object))  # built, so the export can track its vocabulary

        def from_strings(texts):
            return model(vectorize(texts), training=False)

        def reference(texts):
            return {"output": np.asarray(model(to_ids(vectorize, [str(t) for t in texts]), training=False))}

        examples = ["the plot was not good", "although the script was dull , the cast was wonderful",
                    "A film I will watch again!", "", "an unwatchably overlong filmmaker's folly"]
        return Endpoint("serve_text", from_strings, [tf.TensorSpec((None,), tf.string, name="text")],
                        lambda inputs: [np.array(examples, dtype=object)], reference, trackables=_trackables(vectorize))


__all__ = ["SentimentTask", "SentimentData", "SentimentModel"]
