"""`recurrent`: one command line, the same verbs for every task.

    recurrent --version
    recurrent tasks [--json]
    recurrent train TASK [--model NAME] [--data SPEC] [--config FILE] [--set key=value ...]
                         [--epochs N] [--seed S] [--batch-size B] [--encoding ENC] [--run-dir DIR]
                         [--strategy default|mirrored|multiworker]
                         [--quick] [--quiet]
    recurrent evaluate RUN [--data SPEC] [--set data.KEY=VALUE ...] [--quiet]
    recurrent predict RUN INPUT... [--json] [--output OUT.csv|OUT.jsonl] [--output-dir DIR] [--overwrite]
    recurrent predict RUN --input FILE [--column NAME] [--output OUT.csv|OUT.jsonl] [--batch-size N] [--output-dir DIR]
    recurrent tune TASK [--tuner random|grid|hyperband|bayesian] [--max-trials N] [--space KEY=SPEC ...]
                        [--fresh] [--retrain-best] [--prune median] (and train's --model, --data, --config, --set, --epochs, --seed, --quick)
    recurrent export RUN [--format savedmodel|tflite] [--quantize none|dynamic|float16|int8] [--quiet]

A mistake in what was asked (unknown task, bad value, missing file) prints one line on stderr and
exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from keras_recurrent.pipelines.environment import quiet_tensorflow, stderr_silenced
from keras_recurrent.tasks import UserError, check_task_name

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not usage + message) and exit status 2."""

    def error(self, message):
        raise _UsageError(f"{self.prog}: {message} (see --help)")


class _UsageError(Exception):
    pass


def _count(kind: str, minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def version_line() -> str:
    """This project's version with those of Keras, its backend and TensorFlow (what a bug report needs).

    Read from the installed distributions' metadata, not by importing them: importing TensorFlow takes
    seconds, and `--version` answers at once.
    """
    import importlib.metadata as md

    import keras_recurrent

    def installed(*names):
        for name in names:
            try:
                return md.version(name)
            except md.PackageNotFoundError:
                continue
        return "not installed"  # a JAX- or PyTorch-only environment can still run the layers

    return (f"keras-recurrent {keras_recurrent.__version__} (keras {installed('keras')}, "
            f"backend {_keras_backend()}, tensorflow {installed('tensorflow', 'tensorflow-cpu')})")


def _keras_backend() -> str:
    """The backend Keras will load, found as Keras finds it: $KERAS_BACKEND, else keras.json, else tensorflow."""
    import os

    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


class _VersionAction(argparse.Action):
    """Like argparse's `version` action, but the versions are read only when asked (TensorFlow is slow to import)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the versions of this project, Keras, its backend and TensorFlow")

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="recurrent", description="Recurrent models: train, evaluate and predict, one task at a time.")
    parser.add_argument("--version", action=_VersionAction)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_OneLineParser)
    verbs.required = True

    listing = verbs.add_parser("tasks", help="list tasks, their models, data sources and default hyperparameters")
    listing.add_argument("--json", action="store_true", help="machine-readable output")

    train = verbs.add_parser("train", help="train a task's model into a run directory (resumes an interrupted run)")
    train.add_argument("task", help="task name (see `recurrent tasks`)")
    train.add_argument("--model", help="model name from the task's registry (default: the task's default)")
    train.add_argument("--data", help="data spec: omitted = embedded default, tfds:NAME[/CONFIG], or a path")
    train.add_argument("--config", help="JSON or TOML file with train/data/model sections")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one setting, e.g. --set model.units=128 (repeatable)")
    train.add_argument("--epochs", type=_count("an integer", 1), help="shortcut for --set train.epochs=N")
    train.add_argument("--seed", type=_count("an integer", 0), help="shortcut for --set train.seed=S")
    train.add_argument("--batch-size", type=_count("an integer", 1), help="shortcut for --set train.batch_size=B")
    train.add_argument("--encoding", help="text encoding of data files, e.g. cp1252 (shortcut for --set data.encoding=...)")
    train.add_argument("--run-dir", help="run directory (default saved_models/TASK/MODEL-CONFIGHASH)")
    train.add_argument("--strategy", default="default", metavar="NAME",
                       help="default, mirrored (all GPUs; the CPU split in two without one) or multiworker (TF_CONFIG)")
    train.add_argument("--quick", action="store_true", help="the task's tiny settings (small data, one or two epochs): "
                       "a smoke test in seconds")
    train.add_argument("--quiet", action="store_true", help="no progress bars or messages")

    evaluate = verbs.add_parser("evaluate", help="evaluate a finished run on its test split, or on other data")
    evaluate.add_argument("run", help="run directory")
    evaluate.add_argument("--data", help="other data (a --data spec); results go to RUN/evaluations/")
    evaluate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="other data settings, e.g. --set data.num_points=20 (repeatable); results go to RUN/evaluations/")
    evaluate.add_argument("--quiet", action="store_true")

    predict = verbs.add_parser("predict", help="predict with a finished run")
    predict.add_argument("run", help="run directory")
    predict.add_argument("inputs", nargs="*", metavar="INPUT", help="raw inputs: texts, file paths (task-dependent)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--input", metavar="FILE", help="predict every input of FILE: one a line, or a .csv/.tsv column")
    predict.add_argument("--column", help="the .csv/.tsv column holding the inputs (default: text, else the first)")
    predict.add_argument("--output", metavar="FILE", help="write predictions to FILE.csv or FILE.jsonl (written whole, then renamed into place)")
    predict.add_argument("--output-dir", metavar="DIR", help="where files made for an input go (a predicted clip); "
                         "default: beside the input, under a name that does not exist yet")
    predict.add_argument("--overwrite", action="store_true", help="replace files made for an input that exist already")
    predict.add_argument("--batch-size", type=_count("an integer", 1), default=256, help="inputs per batch (default 256)")
    predict.add_argument("--encoding", default="utf-8", help="text encoding of --input (default utf-8)")

    tune = verbs.add_parser("tune", help="sweep a task's hyperparameters with keras-tuner (resumable)")
    tune.add_argument("task", help="task name (see `recurrent tasks`)")
    tune.add_argument("--tuner", default="random", help="random (default), grid, hyperband or bayesian")
    tune.add_argument("--max-trials", type=_count("an integer", 1), default=10, help="trials to run (default 10)")
    tune.add_argument("--space", action="append", default=[], metavar="KEY=SPEC",
                      help="search KEY over a,b,c or low:high[:log] instead of the task's default space (repeatable)")
    tune.add_argument("--model", help="model name from the task's registry")
    tune.add_argument("--data", help="data spec, as for train")
    tune.add_argument("--config", help="JSON or TOML file: the base settings every trial starts from")
    tune.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed base setting (repeatable)")
    tune.add_argument("--epochs", type=_count("an integer", 1), help="epochs per trial (hyperband: the most)")
    tune.add_argument("--seed", type=_count("an integer", 0), help="seed of the base config and the tuner")
    tune.add_argument("--quick", action="store_true", help="the task's tiny settings as the base: a smoke test")
    tune.add_argument("--fresh", action="store_true", help="start the sweep over instead of continuing it")
    tune.add_argument("--retrain-best", action="store_true", help="train the best config into a run directory")
    tune.add_argument("--prune", metavar="RULE", help="median: stop a trial whose best validation loss after epoch k "
                      "is worse than the median of the finished trials' at epoch k (Optuna's median rule)")
    tune.add_argument("--quiet", action="store_true", help="print only the best config's path")

    export = verbs.add_parser("export", help="export a finished run as a SavedModel or a TFLite model (under RUN/export/)")
    export.add_argument("run", help="run directory")
    export.add_argument("--format", default="savedmodel", help="savedmodel (default) or tflite")
    export.add_argument("--quantize", default="none", help="tflite only: none (default), dynamic, float16 or int8")
    export.add_argument("--quiet", action="store_true", help="print only the exported path")
    return parser


def _list_tasks(as_json: bool) -> None:
    from keras_recurrent.pipelines.config import default_config, describe_fields
    from keras_recurrent.tasks import get_task, task_names

    described = []
    for name in task_names():
        task = get_task(name)
        defaults = default_config(task)
        described.append({
            "name": name,
            "description": task.description,
            "models": list(task.models),
            "default_model": task.models.default,
            "data_sources": list(task.data_sources),
            "hyperparameters": {
                section: [{"key": f"{section}.{k}", "default": v, "help": h} for k, v, h in describe_fields(getattr(defaults, section))]
                for section in ("data", "model", "train")
            },
        })
    if as_json:
        print(json.dumps(described, indent=2))
        return
    for t in described:
        print(f"{t['name']}: {t['description']}")
        models = ", ".join(f"{m} (default)" if m == t["default_model"] else m for m in t["models"])
        print(f"  models: {models}")
        print("  data (--data):")
        for source in t["data_sources"]:
            print(f"    {source}")
        print("  hyperparameters (--set KEY=VALUE):")
        for section in t["hyperparameters"].values():
            for field in section:
                print(f"    {field['key']:<28} {field['default']!s:<10} {field['help']}")
        print()


def main(argv=None) -> int:
    quiet_tensorflow()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE

    try:
        # A mistyped task is answered before TensorFlow's seconds of importing.
        if getattr(args, "task", None) is not None:
            check_task_name(args.task)
        with stderr_silenced():
            import tensorflow  # noqa: F401  (its import-time log lines would precede our one-line errors)

        if args.verb == "tasks":
            _list_tasks(args.json)
        elif args.verb == "train":
            from keras_recurrent import pipelines

            run = pipelines.train(
                args.task, model=args.model, data=args.data, config=args.config, set=args.set,
                epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, encoding=args.encoding,
                run_dir=args.run_dir, quick=args.quick, quiet=args.quiet, strategy=args.strategy,
            )
            if args.quiet:
                print(run.path)
        elif args.verb == "evaluate":
            from keras_recurrent import pipelines

            pipelines.evaluate(args.run, data=args.data, set=args.set, quiet=args.quiet)
        elif args.verb == "predict":
            from keras_recurrent.pipelines import verbs

            if bool(args.inputs) == bool(args.input):
                raise UserError("predict: give inputs on the command line or --input FILE (one of the two)")
            where = dict(output_dir=args.output_dir, overwrite=args.overwrite)
            if args.input:
                from keras_recurrent.pipelines.batch_predict import predict_file

                output = args.output
                count = predict_file(args.run, args.input, output, column=args.column, batch_size=args.batch_size,
                                     encoding=args.encoding, progress=output is not None, **where)
                if output is not None:
                    print(f"{count} predictions: {output}")
            else:
                if args.column:
                    raise UserError("predict: --column goes with --input FILE")
                if args.output:
                    from keras_recurrent.pipelines.batch_predict import predict_to_file

                    count = predict_to_file(args.run, args.inputs, args.output, **where)
                    print(f"{count} predictions: {args.output}")
                    return 0
                loaded = verbs.load_run(args.run)
                for row in verbs.predict(args.run, args.inputs, loaded=loaded, **where):
                    print(json.dumps(row) if args.json else loaded[0].format_prediction(row))
        elif args.verb == "tune":
            from keras_recurrent.pipelines.tuning import tune

            summary = tune(
                args.task, tuner=args.tuner, max_trials=args.max_trials, model=args.model, data=args.data,
                config=args.config, set=args.set, space=args.space, epochs=args.epochs, seed=args.seed,
                quick=args.quick, fresh=args.fresh, retrain_best=args.retrain_best, prune=args.prune, quiet=args.quiet,
            )
            if args.quiet and "best_config" in summary:  # a distributed sweep's worker has no summary
                print(summary["best_config"])
        elif args.verb == "export":
            from keras_recurrent.pipelines.exporting import export

            report = export(args.run, format=args.format, quantize=args.quantize, quiet=args.quiet)
            if args.quiet:
                print(report["path"])
    except UserError as e:
        # One line, whatever a file put into the message (a column name holding a line break).
        print(f"recurrent: error: {' '.join(str(e).splitlines())}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`recurrent predict ... | head`): not an error; stop writing quietly.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\nrecurrent: interrupted; run the same command again to resume from the last finished epoch",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
