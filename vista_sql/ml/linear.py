"""Linear MLlib models as plain numbers, applied with numpy where no JVM is at hand.

`vista_predict_model(...)` runs inside a Spark Python worker, which cannot call an MLlib model
(that lives in the JVM). For the learners whose prediction is a closed form of their
coefficients — logistic regression (binomial and multinomial), linear SVC, linear regression —
SAVE BEST AS stores those coefficients, and `apply` reproduces MLlib's prediction from them:
the same class, and probabilities equal up to floating-point summation order.
"""

from __future__ import annotations

import numpy as np

SUPPORTED = ("logistic_regression", "linear_svc", "linear_regression")


def export(learner: str, model) -> dict | None:
    """What `apply` needs, read from a fitted MLlib model; None for other learners."""
    if learner not in SUPPORTED or model is None:
        return None
    if learner == "logistic_regression":
        matrix = model.coefficientMatrix.toArray()
        out = {
            "kind": "binomial" if matrix.shape[0] == 1 else "multinomial",
            "coefficients": matrix.tolist(),
            "intercepts": model.interceptVector.toArray().tolist(),
        }
        if out["kind"] == "binomial":
            out["threshold"] = model.getThreshold()
        return out
    out = {
        "kind": "svc" if learner == "linear_svc" else "regression",
        "coefficients": [model.coefficients.toArray().tolist()],
        "intercepts": [model.intercept],
    }
    if learner == "linear_svc":
        out["threshold"] = model.getThreshold()
    return out


def apply(params: dict, x: np.ndarray) -> tuple[np.ndarray, list | None]:
    """Rows of `x` (n, d) → (prediction, probability per row or None), as MLlib computes them."""
    weights = np.asarray(params["coefficients"], dtype=np.float64)
    margins = x @ weights.T + np.asarray(params["intercepts"], dtype=np.float64)
    kind = params["kind"]
    if kind == "regression":
        return margins[:, 0], None
    if kind == "svc":
        return (margins[:, 0] > params["threshold"]).astype(np.float64), None
    if kind == "binomial":
        positive = 1.0 / (1.0 + np.exp(-margins[:, 0]))
        probability = np.stack([1.0 - positive, positive], axis=1)
        return (positive > params["threshold"]).astype(np.float64), probability.tolist()
    shifted = np.exp(margins - margins.max(axis=1, keepdims=True))
    probability = shifted / shifted.sum(axis=1, keepdims=True)
    return probability.argmax(axis=1).astype(np.float64), probability.tolist()
