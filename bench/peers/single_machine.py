"""The single-machine peer: Keras `Model.predict` for all layers, then scikit-learn.

One process, no Spark: decode every image with Pillow, one multi-output Keras model (every
requested layer an output) run with `Model.predict`, the same 2×2 max pooling, then scikit-learn's
logistic regression per layer (elastic net, as MLlib's) and the structured-only baseline.
TensorFlow runs one process with a thread per core, set explicitly: on the EPYC of session 24
its defaults predicted ResNet50's conv4/conv5 blocks at 18.5 images/s against 34.5 with two
threads set (1 thread: 23.5), and a peer slowed by its defaults flatters vista_sql's ratios.
scikit-learn uses its default thread pools (all cores).
"""

from __future__ import annotations

import os

import numpy as np

from bench import common


def main() -> None:
    args = common.child_args(__doc__.splitlines()[0])
    phases = common.Phases()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
        from sklearn.preprocessing import StandardScaler

        with phases.phase("import tensorflow"):
            import keras
            import tensorflow as tf

            cores = len(os.sched_getaffinity(0))
            tf.config.threading.set_intra_op_parallelism_threads(cores)
            tf.config.threading.set_inter_op_parallelism_threads(cores)
        with phases.phase("build cnn"):
            base, preprocess = common.build_cnn(keras, args.cnn)
            model = keras.Model(base.input, [base.get_layer(n).output for n in args.layers])
        paths = common.image_paths(args.data)
        with phases.phase("decode", images=len(paths)):
            pixels = preprocess(np.stack([common.decode(p.read_bytes()) for _, p in paths]))
        with phases.phase("cnn (Model.predict, all layers)", images=len(paths)):
            outputs = model.predict(pixels, batch_size=common.BATCH, verbose=0)
            outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
            features = [common.pool(o) for o in outputs]
        del pixels, outputs
        table = pd.read_parquet(args.data / "table.parquet").set_index("id")
        ids = np.array([i for i, _ in paths])
        table = table.loc[ids]
        structured = table.drop(columns=["label"]).to_numpy(np.float32)
        labels = table["label"].to_numpy()
        rng = np.random.default_rng(common.SEED)
        is_test = rng.random(len(ids)) < common.SPLIT
        results = []
        for name, image in [("(structured only)", None), *zip(args.layers, features, strict=True)]:
            with phases.phase(f"train {name}"):
                x = structured if image is None else np.hstack([structured, image])
                scaler = StandardScaler().fit(x[~is_test])  # MLlib standardizes too
                learner = LogisticRegression(
                    penalty="elasticnet",
                    solver="saga",
                    l1_ratio=common.ELASTIC_NET,
                    C=1.0 / (common.REG_PARAM * max(1, int((~is_test).sum()))),
                    max_iter=common.MAX_ITER,
                )
                learner.fit(scaler.transform(x[~is_test]), labels[~is_test])
                test_x, truth = scaler.transform(x[is_test]), labels[is_test]
                predicted = learner.predict(test_x)
                scores = {
                    "accuracy": accuracy_score(truth, predicted),
                    "f1": f1_score(truth, predicted, average="weighted"),
                    "auc": roc_auc_score(truth, learner.predict_proba(test_x)[:, 1]),
                }
            results.append({"layer": name, **{k: round(float(v), 4) for k, v in scores.items()}})
    except Exception as error:
        common.fail(args.out, error, phases)
    phases.write(args.out, status="finish", images=len(paths), results=results)


if __name__ == "__main__":
    main()
