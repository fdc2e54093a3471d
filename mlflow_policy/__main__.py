from mlflow_policy.cli import main_entry

main_entry()
