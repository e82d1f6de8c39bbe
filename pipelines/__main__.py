from keras_recurrent.pipelines.cli import main

raise SystemExit(main())
