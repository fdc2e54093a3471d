"""mlflow-policy: a configuration-as-code policy engine for MLflow fleets."""

__version__ = "0.1.0"
