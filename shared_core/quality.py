"""What the router believes about each model's success rate on one task family.

One Bayesian probit regression over model features, not one independent
Beta per model, so that what is learned about one model moves the belief about
the others:

    P(good | model m) = Phi(z_m + a + b * (z_m - mean z) + u_m)

z_m is the probit of the model's prior score (its card's published benchmark,
shared_core/catalog.py), scaled so that the expected P(good) of a model with no
evidence is that score; `a` is how much harder or easier this workload is than
the benchmark, shared by every model; `b` is how much more (or less) the
benchmark separates models here than it promised; u_m is what is particular
to model m. All start at 0, so a cold router believes the cards; one model's
outcomes move `a` and `b` and with them every model's estimate.

Updates are assumed-density filtering with a full Gaussian posterior (the
closed-form probit update of Graepel et al., 2010, "Web-scale Bayesian
click-through rate prediction"), one observation at a time, cost O(d^2) with d
= models + 2: no history is kept or revisited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .catalog import normal_cdf, normal_cdf_array

try:  # numpy's own LAPACK kernel, without np.linalg.cholesky's checks and errstate: 14 -> 4 us a factor
    from numpy.linalg._umath_linalg import cholesky_lo as _cholesky_lo
except ImportError:  # a numpy that moved it: the public call, same factor
    _cholesky_lo = None

_SQRT2PI = math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class PriorSpread:
    """Prior standard deviations of the shared terms, in probit units (1.0 moves 0.5 to 0.84)."""

    shift: float = 0.5  # a: the workload against the benchmark
    slope: float = 0.3  # b


class QualityModel:
    """`prior_sd[m]` is the prior sd of u_m: how far model m may stand from where
    its score puts it (wider for a score predicted than for one published)."""

    def __init__(self, models: list[str], prior_z: dict[str, float], prior_sd: dict[str, float],
                 spread: PriorSpread = PriorSpread(), drift: float = 0.0):
        self.models = list(models)
        self.index = {m: i for i, m in enumerate(self.models)}
        z = np.array([prior_z[m] for m in self.models], dtype=float)
        self.feature = z - (float(z.mean()) if len(z) else 0.0)  # what the slope b multiplies
        # row m: the features of model m's latent score (intercept, slope's feature, own offset)
        self.design = np.hstack([np.ones((len(self.models), 1)), self.feature[:, None], np.eye(len(self.models))])
        d = len(self.models) + 2
        self.mu = np.zeros(d)
        var = [spread.shift ** 2, spread.slope ** 2]
        var += [prior_sd[m] ** 2 for m in self.models]
        self.sigma = np.diag(var)
        # scaled so that a cold model's expected P(good) is its prior score exactly
        self.prior_z = z * np.sqrt(1.0 + np.array([self._x(m) @ self.sigma @ self._x(m) for m in self.models]))
        self.drift = drift  # variance added per observation, so old evidence fades
        self.observations = 0
        self._summary: dict[str, tuple[float, float, float]] | None = None
        self._chol: np.ndarray | None = None
        self._draws: dict[str, np.ndarray] | None = None

    def summary(self) -> dict[str, tuple[float, float, float]]:
        """Every model's (mean, low, high) P(good), the interval at 2 posterior sds;
        computed once per observation, since every request asks for it."""
        if self._summary is None:
            x = self.design
            m = self.prior_z + x @ self.mu
            sd = np.sqrt(np.einsum("ij,jk,ik->i", x, self.sigma, x))
            mean = _cdf(m / np.sqrt(1.0 + sd ** 2))
            low, high = _cdf(m - 2.0 * sd), _cdf(m + 2.0 * sd)
            self._summary = {name: row for name, row in zip(self.models, zip(mean, low, high))}
        return self._summary

    def _x(self, model: str) -> np.ndarray:
        return self.design[self.index[model]]

    def marginal(self, model: str) -> tuple[float, float]:
        """Mean and variance of the latent probit score of `model`."""
        i = self.index[model]
        x = self._x(model)
        return float(self.prior_z[i] + x @ self.mu), float(x @ self.sigma @ x)

    def mean(self, model: str) -> float:
        """Posterior predictive P(good)."""
        m, v = self.marginal(model)
        return normal_cdf(m / math.sqrt(1.0 + v))

    def interval(self, model: str, z: float = 2.0) -> tuple[float, float]:
        """A central credible interval of P(good) (z posterior sds either side)."""
        m, v = self.marginal(model)
        s = math.sqrt(v)
        return normal_cdf(m - z * s), normal_cdf(m + z * s)

    def sample(self, rng: np.random.Generator) -> dict[str, float]:
        """One joint Thompson draw of every model's P(good)."""
        theta = self.mu + self._cholesky() @ rng.standard_normal(len(self.mu))
        return dict(zip(self.models, _cdf(self._latent(theta))))

    def draws(self, n: int = 256) -> dict[str, np.ndarray]:
        """`n` joint posterior draws of every model's P(good) (row i of every model
        is one draw), once per observation; what exploration weighs (exploration.py).
        Seeded by the observation count, so they leave the Thompson stream alone."""
        if self._draws is None:
            rng = np.random.default_rng(self.observations)
            theta = self.mu + rng.standard_normal((n, len(self.mu))) @ self._cholesky().T
            p = normal_cdf_array(self._latent(theta))
            self._draws = {m: p[:, i] for i, m in enumerate(self.models)}
        return self._draws

    def _latent(self, theta: np.ndarray) -> np.ndarray:
        """Every model's latent score for parameters `theta` (one draw, or a row each)."""
        return self.prior_z + theta[..., :1] + theta[..., 1:2] * self.feature + theta[..., 2:]

    def _cholesky(self) -> np.ndarray:
        if self._chol is None:  # once per observation, not per request
            sigma = self.sigma.copy()
            sigma.flat[:: len(self.mu) + 1] += 1e-12
            self._chol = _factor(sigma)
        return self._chol

    def observe(self, model: str, reward: float, offset: float = 0.0, noise_sd: float = 1.0) -> None:
        """A graded outcome in [0, 1]: success with weight `reward`, failure with the rest.
        A question known to be harder than average (agreement.py) lowers the latent
        score by `offset` and leaves `noise_sd` of its unit noise unexplained."""
        for y, w in ((1.0, reward), (-1.0, 1.0 - reward)):
            if w > 1e-9:
                self._update(model, y, w, offset, noise_sd)
        self.observations += 1
        self._summary = self._chol = self._draws = None
        if self.drift:
            self.sigma.flat[:: len(self.mu) + 1] += self.drift  # the diagonal

    def _update(self, model: str, y: float, weight: float, offset: float = 0.0, noise_sd: float = 1.0) -> None:
        i = self.index[model]
        x = self._x(model)
        sx = self.sigma @ x
        m = self.prior_z[i] + x @ self.mu - offset
        c = math.sqrt(noise_sd ** 2 + x @ sx)
        t = y * m / c
        lam = _pdf(t) / max(normal_cdf(t), 1e-300)
        delta = lam * (lam + t)
        self.mu = self.mu + weight * (y * lam / c) * sx
        self.sigma = self.sigma - weight * (delta / (c * c)) * np.outer(sx, sx)

    def to_dict(self) -> dict[str, Any]:
        return {"models": self.models, "mu": self.mu.tolist(), "sigma": self.sigma.tolist(),
                "observations": self.observations}

    def restore(self, data: dict[str, Any]) -> None:
        """Take a saved posterior; models added since keep their prior."""
        saved = {m: i for i, m in enumerate(data["models"])}
        keep = [0, 1] + [2 + self.index[m] for m in data["models"] if m in self.index]
        src = [0, 1] + [2 + saved[m] for m in data["models"] if m in self.index]
        mu, sigma = np.asarray(data["mu"]), np.asarray(data["sigma"])
        self.mu[keep] = mu[src]
        self.sigma[np.ix_(keep, keep)] = sigma[np.ix_(src, src)]
        self.observations = int(data.get("observations", 0))
        self._summary = self._chol = self._draws = None


def _factor(sigma: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor; np.linalg.cholesky's LinAlgError where sigma is not
    positive definite (the kernel alone returns NaNs there)."""
    if _cholesky_lo is not None:
        chol = _cholesky_lo(sigma, signature="d->d")
        if math.isfinite(chol[-1, -1]):
            return chol
    return np.linalg.cholesky(sigma)


def _cdf(z: np.ndarray) -> list[float]:
    return [0.5 * math.erfc(-v / math.sqrt(2)) for v in z.tolist()]


def _pdf(t: float) -> float:
    return math.exp(-0.5 * t * t) / _SQRT2PI
