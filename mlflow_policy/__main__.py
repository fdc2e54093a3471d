from mlflow_policy.cli import main

raise SystemExit(main())
