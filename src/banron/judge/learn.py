"""Small learned models in numpy: multinomial logistic regression and ridge regression.

The judge's training sets are a few hundred examples we wrote ourselves, so the models are
linear, strongly regularised and fitted in milliseconds when first used; no scikit-learn
(it would add ~100 MB with scipy for two functions).
"""

from __future__ import annotations

import numpy as np


class Standardizer:
    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Standardizer:
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0) + 1e-6
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.scale is not None, "fit first"
        return (x - self.mean) / self.scale


class SoftmaxRegression:
    """Multinomial logistic regression, L2-penalised, fitted by full-batch Adam.

    ``balanced`` weighs each class by the inverse of its frequency, so a class with fewer
    examples is not drowned out by ``none``.
    """

    def __init__(self, n_classes: int, l2: float = 1e-2, balanced: bool = True, steps: int = 400) -> None:
        self.n_classes = n_classes
        self.l2 = l2
        self.balanced = balanced
        self.steps = steps
        self.scaler = Standardizer()
        self.w: np.ndarray | None = None
        self.b: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> SoftmaxRegression:
        x = self.scaler.fit(np.asarray(x, dtype=np.float64)).transform(np.asarray(x, dtype=np.float64))
        n, d = x.shape
        onehot = np.eye(self.n_classes)[y]
        counts = np.bincount(y, minlength=self.n_classes).astype(np.float64)
        if self.balanced:
            cw = np.where(counts > 0, n / (self.n_classes * np.maximum(counts, 1)), 0.0)
        else:
            cw = np.ones(self.n_classes)
        sw = cw[y][:, None] / n
        w = np.zeros((d, self.n_classes))
        b = np.zeros(self.n_classes)
        mw, vw, mb, vb = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
        lr, beta1, beta2 = 0.05, 0.9, 0.999
        for t in range(1, self.steps + 1):
            p = _softmax(x @ w + b)
            g = (p - onehot) * sw
            gw = x.T @ g + self.l2 * w
            gb = g.sum(axis=0)
            mw = beta1 * mw + (1 - beta1) * gw
            vw = beta2 * vw + (1 - beta2) * gw**2
            mb = beta1 * mb + (1 - beta1) * gb
            vb = beta2 * vb + (1 - beta2) * gb**2
            corr = np.sqrt(1 - beta2**t) / (1 - beta1**t)
            w -= lr * corr * mw / (np.sqrt(vw) + 1e-8)
            b -= lr * corr * mb / (np.sqrt(vb) + 1e-8)
        self.w, self.b = w, b
        return self

    def state(self) -> dict[str, np.ndarray]:
        """The fitted parameters, to save with ``np.savez``."""
        assert self.w is not None and self.b is not None, "fit first"
        assert self.scaler.mean is not None and self.scaler.scale is not None
        return {"w": self.w, "b": self.b, "mean": self.scaler.mean, "scale": self.scaler.scale}

    def load_state(self, state: dict[str, np.ndarray]) -> SoftmaxRegression:
        self.w, self.b = np.asarray(state["w"]), np.asarray(state["b"])
        self.scaler.mean, self.scaler.scale = np.asarray(state["mean"]), np.asarray(state["scale"])
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        assert self.w is not None and self.b is not None, "fit first"
        z = self.scaler.transform(np.asarray(x, dtype=np.float64)) @ self.w + self.b
        return _softmax(z).astype(np.float32)


class RidgeRegression:
    """Least squares with an L2 penalty on standardised features (closed form)."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.scaler = Standardizer()
        self.w: np.ndarray | None = None
        self.b = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeRegression:
        xs = self.scaler.fit(np.asarray(x, dtype=np.float64)).transform(np.asarray(x, dtype=np.float64))
        y = np.asarray(y, dtype=np.float64)
        self.b = float(y.mean())
        d = xs.shape[1]
        self.w = np.linalg.solve(xs.T @ xs + self.alpha * np.eye(d), xs.T @ (y - self.b))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.w is not None, "fit first"
        return self.scaler.transform(np.asarray(x, dtype=np.float64)) @ self.w + self.b


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
