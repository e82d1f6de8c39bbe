"""`python -m keras_recurrent ...` is the `recurrent` command line."""

from keras_recurrent.pipelines.cli import main

raise SystemExit(main())
