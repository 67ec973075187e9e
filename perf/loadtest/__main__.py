from perf.loadtest.cli import main

raise SystemExit(main())
