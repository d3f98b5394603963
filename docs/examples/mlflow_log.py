"""Log a run into runledger with the stock MLflow client, unchanged.

    MLFLOW_TRACKING_URI=http://127.0.0.1:8787 MLFLOW_TRACKING_TOKEN="$TOKEN" python docs/examples/mlflow_log.py

`runledger serve --token "$TOKEN"` answers MLflow's tracking API (docs/mlflow.md). This script is
ordinary MLflow code: an experiment, a run with params, 1,000 metric steps, tags and an artifact.
Every call becomes a signed event on the run's stream in the ledger, so afterwards

    runledger checkpoint && runledger replay <run id>

verifies the run. The last line printed is JSON: the run id and everything logged, value for value.

Options: --experiment NAME (default "mlflow-example"), --steps N (default 1000), --quality Q (default
1.0; scales the final f1, so two runs can be gated against each other), --summary FILE (also write
the JSON there).
"""

import argparse
import json
import math
import os
import tempfile

import mlflow


def loss_at(step, steps):
    # A decaying training loss with a little deterministic wobble: every value is a full double.
    return 1.2 * math.exp(-4.0 * step / steps) + 0.01 * math.sin(step / 7.0) + 0.05


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="mlflow-example")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--quality", type=float, default=1.0)
    parser.add_argument("--summary")
    args = parser.parse_args()

    mlflow.set_experiment(args.experiment)
    params = {"learning_rate": "0.01", "optimizer": "adam", "epochs": "10"}
    tags = {"team": "vision", "dataset": "iris"}
    with mlflow.start_run(run_name="mlflow-example") as run:
        mlflow.log_param("learning_rate", params["learning_rate"])  # runs/log-parameter
        mlflow.log_params({k: v for k, v in params.items() if k != "learning_rate"})  # runs/log-batch

        losses = []
        for step in range(args.steps):
            value = loss_at(step, args.steps)
            mlflow.log_metric("loss", value, step=step)  # runs/log-metric, one request per step
            losses.append(value)

        final = {"f1": round(0.9 * args.quality, 6), "accuracy": round(0.93 * args.quality, 6)}
        mlflow.log_metrics(final, step=args.steps)  # runs/log-batch

        mlflow.set_tag("team", tags["team"])  # runs/set-tag
        mlflow.set_tags({"dataset": tags["dataset"]})  # runs/log-batch

        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "report.json")
            with open(report, "w") as f:
                json.dump({"final": final, "steps": args.steps}, f, sort_keys=True)
            mlflow.log_artifact(report)  # PUT mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/report.json
            with open(report, "rb") as f:
                artifact = {"path": "report.json", "bytes": len(f.read())}

        run_id = run.info.run_id
    # Leaving the block ends the run: runs/update with status FINISHED.

    summary = {
        "run_id": run_id,
        "experiment": args.experiment,
        "params": params,
        "tags": tags,
        "metrics": {"loss": losses, "f1": final["f1"], "accuracy": final["accuracy"]},
        "artifact": artifact,
    }
    text = json.dumps(summary)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
