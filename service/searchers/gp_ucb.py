"""GP-UCB Bayesian optimisation on the unit cube as a Ray Tune ``Searcher``.

The first ``n_initial`` suggestions are a scrambled Sobol sequence; after that each suggestion
fits a ``SingleTaskGP`` (Matern-5/2 ARD with gamma priors, ``Standardize`` outcome, float64) to the
completed trials and maximises ``qUpperConfidenceBound`` with q = 1 and the running trials as
``X_pending``, so that k concurrent trials get k distinct points. Sequential q = 1 with pending
points is used instead of joint q > 1 optimisation, which was measured to be erratic and slow.

Failure handling: if the GP cannot be fitted (``ModelFittingError``, ``NotPSDError``) or the
optimiser returns a point already observed or pending, that suggestion falls back to the next
Sobol point; the trial's config records which source produced it under ``SUGGESTION_KEY``.
Failed trials and non-finite metrics are not observations.

Suggestions are idempotent: a trial id that asks again gets its pending point back.

Lookahead (``lookahead=True``; the service turns it on when trials run in parallel): a worker
must not wait for the controller. The searcher keeps ``lookahead_depth`` proposals prepared
ahead. Each time a suggestion is handed out, background threads refill that queue, each new
proposal computed from a snapshot of the searcher taken then, with the running trials and the
proposals queued before it as pending points (a chain: one thread waits for the previous
proposal, then computes its own). Tune asks the moment a trial finishes and gets the queue's
head. Trials of equal length end together, so calls come in bursts of up to ``parallel``: with
a depth of ``parallel`` (the service's choice) a whole burst is served from the queue, whereas
one prepared point would leave the second call of a burst waiting for a fit. The price is the
usual one of asynchronous BO: a proposal does not know the results that arrived after its
snapshot. Suggestions stay a pure function of the order of events: a prepared point is always
used, waited for if need be. ``wait_seconds`` records how long each ``suggest`` call took.
"""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
from typing import Any

import torch
from botorch.acquisition import qUpperConfidenceBound
from botorch.exceptions.errors import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_matern_kernel_with_gamma_prior
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.errors import NotPSDError
from ray.tune.search import Searcher
from torch.quasirandom import SobolEngine

logger = logging.getLogger(__name__)

SUGGESTION_KEY = "_suggestion"
_DUPLICATE_TOLERANCE = 1e-6
#: GP work seeds torch's global generator (BoTorch draws from it): one computation at a time, so
#: that a lookahead thread and the caller never interleave their draws
_GP_LOCK = threading.Lock()
_HYPERPARAMETERS = ("likelihood.", "mean_module.", "covar_module.")


def build_gp(x: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
    """The searcher's GP (unfitted) on points ``x`` ``(n, d)`` in the unit cube and values ``y`` ``(n, 1)``."""
    return SingleTaskGP(x, y, covar_module=get_matern_kernel_with_gamma_prior(x.shape[-1]),
                        outcome_transform=Standardize(m=1))


def fit_gp(x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> SingleTaskGP:
    """The searcher's GP fitted to ``x`` ``(n, d)`` and ``y`` ``(n, 1)``, seeded, under the GP lock.

    Raises:
        ModelFittingError, NotPSDError: the GP cannot be fitted.
    """
    with _GP_LOCK, torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_gp(x, y)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def posterior_mean(x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``(n,)`` the fitted GP's posterior mean at the observed points ``x`` (float64): the model's
    estimate of each point's value, which shrinks a lucky observation towards its neighbours
    (Ax picks its best parameterisation the same way). Falls back to ``y`` when the GP cannot be fitted."""
    try:
        model = fit_gp(x, y, seed)
    except (ModelFittingError, NotPSDError):
        return y.squeeze(-1).clone()
    with torch.no_grad():
        return model.posterior(x).mean.squeeze(-1)


class GpUcbSearcher(Searcher):
    """Bayesian optimisation with a GP and (q)UCB over ``[0, 1]^d``.

    Args:
        parameter_names: the ``d`` coordinate names; suggestions are dicts keyed by them.
        metric, mode: the reported metric and ``"max"`` or ``"min"``.
        n_initial: Sobol points before the GP is used (at least 2 observations are also needed).
        beta: UCB exploration weight (BoTorch's convention: mean + sqrt(beta) * std).
        seed: seeds the Sobol sequence, the acquisition's QMC sampler and its optimiser.
        num_restarts, raw_samples: ``optimize_acqf`` settings.
        mc_samples: quasi-Monte-Carlo samples of ``qUpperConfidenceBound``.
        lookahead: prepare suggestions in the background (see the module docstring). Off for
            sequential use, where it would always leave out the latest observation.
        lookahead_depth: how many proposals to keep prepared ahead (at least 1).
    The defaults keep a suggestion near 0.2 s on one CPU thread at 40 observations
    (``bench/suggestion_cost.py``).
    """

    def __init__(self, parameter_names: list[str], metric: str = "objective", mode: str = "max",
                 n_initial: int = 8, beta: float = 2.0, seed: int = 0,
                 num_restarts: int = 4, raw_samples: int = 128, mc_samples: int = 128, lookahead: bool = False,
                 lookahead_depth: int = 1) -> None:
        super().__init__(metric=metric, mode=mode)
        self.parameter_names = list(parameter_names)
        self.n_initial = n_initial
        self.beta = beta
        self.seed = seed
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self._observed_x: list[list[float]] = []
        self._observed_y: list[float] = []
        self._pending: dict[str, dict[str, Any]] = {}
        self._sobol_drawn = 0
        self._gp_suggestions = 0
        self._requeued: list[dict[str, Any]] = []
        self._hyperparameters: dict[str, Any] = {}
        self.fallbacks: list[str] = []
        self.lookahead = lookahead
        self.lookahead_depth = max(1, lookahead_depth)
        #: prepared proposals, oldest first: (thread, box); a box gets "snapshot" and "proposal" or "error"
        self._prepared: list[tuple[threading.Thread, dict[str, Any]]] = []
        #: seconds each ``suggest`` call took (computing a point, or waiting for the prepared one)
        self.wait_seconds: list[float] = []
        #: suggestions that came from a prepared (lookahead) proposal
        self.prepared_used = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_prepared"] = []  # threads do not pickle; a restored searcher computes afresh
        return state

    @property
    def dimension(self) -> int:
        return len(self.parameter_names)

    @property
    def num_observations(self) -> int:
        return len(self._observed_y)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    # Suggestions

    def _next_sobol(self) -> torch.Tensor:
        engine = SobolEngine(self.dimension, scramble=True, seed=self.seed)
        engine.fast_forward(self._sobol_drawn)
        self._sobol_drawn += 1
        return engine.draw(1, dtype=torch.float64)[0]

    def _training_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Observations with repeated points merged (their values averaged)."""
        x = torch.tensor(self._observed_x, dtype=torch.float64)
        y = torch.tensor(self._observed_y, dtype=torch.float64)
        unique, inverse = torch.unique(x, dim=0, return_inverse=True)
        sums = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, y)
        counts = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(y))
        return unique, (sums / counts).unsqueeze(-1)

    def _pending_x(self) -> torch.Tensor | None:
        if not self._pending:
            return None
        return torch.tensor([[c[n] for n in self.parameter_names] for c in self._pending.values()], dtype=torch.float64)

    def _gp_point(self) -> torch.Tensor:
        step_seed = self.seed * 100_003 + self._gp_suggestions
        # Fitting may restart from prior samples; seeding makes a suggestion a pure function of
        # the searcher's state, so a restored searcher proposes exactly what the original would.
        with _GP_LOCK, torch.random.fork_rng():
            torch.manual_seed(step_seed)
            return self._fit_and_maximise(step_seed)

    def _fit_and_maximise(self, step_seed: int) -> torch.Tensor:
        x, y = self._training_data()
        model = build_gp(x, y)
        if self._hyperparameters:
            # Warm start from the previous fit: the optimiser then needs few iterations.
            model.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in self._hyperparameters.items()},
                                  strict=False)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        self._hyperparameters = {k: v.tolist() for k, v in model.state_dict().items() if k.startswith(_HYPERPARAMETERS)}
        acquisition = qUpperConfidenceBound(
            model, beta=self.beta, X_pending=self._pending_x(),
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]), seed=step_seed),
        )
        bounds = torch.stack([torch.zeros(self.dimension), torch.ones(self.dimension)]).double()
        candidate, _ = optimize_acqf(acquisition, bounds=bounds, q=1, num_restarts=self.num_restarts,
                                     raw_samples=self.raw_samples, options={"seed": step_seed})
        self._gp_suggestions += 1
        return candidate[0].detach().clamp(0.0, 1.0)

    def _is_duplicate(self, point: torch.Tensor) -> bool:
        known = list(self._observed_x) + [[c[n] for n in self.parameter_names] for c in self._pending.values()]
        if not known:
            return False
        distance = (torch.tensor(known, dtype=torch.float64) - point).abs().max(dim=1).values.min()
        return bool(distance < _DUPLICATE_TOLERANCE)

    def _propose(self) -> tuple[torch.Tensor, str]:
        if self.num_observations + len(self._pending) < self.n_initial or self.num_observations < 2:
            return self._next_sobol(), "sobol"
        try:
            point = self._gp_point()
        except (ModelFittingError, NotPSDError) as error:
            logger.warning("GP-UCB fell back to Sobol: %s", error)
            self.fallbacks.append(f"{type(error).__name__}: {error}")
            return self._next_sobol(), "sobol-fallback"
        if self._is_duplicate(point):
            logger.info("GP-UCB proposed a known point; using the next Sobol point instead")
            return self._next_sobol(), "sobol-duplicate"
        return point, "gp-ucb"

    def _speculate(self) -> None:
        """Refill the queue of prepared proposals from a snapshot of the current state."""
        if not self.lookahead or self._requeued:
            return
        while len(self._prepared) < self.lookahead_depth:
            self._prepared.append(self._prepare(list(self._prepared)))

    def _prepare(self, ahead: list[tuple[threading.Thread, dict[str, Any]]]) -> tuple[threading.Thread, dict[str, Any]]:
        """Start computing the proposal that follows the queued ``ahead``: from the state now, with
        their points pending and the counters (Sobol position, step seed, fit) the last left."""
        state = pickle.loads(pickle.dumps(self.get_state()))
        box: dict[str, Any] = {}
        threads = torch.get_num_threads()
        names = self.parameter_names

        def prepare() -> None:
            # OpenMP's thread count is per thread: match the caller's, so that the result does not
            # depend on which thread computed it.
            torch.set_num_threads(threads)
            try:
                for position, (thread, earlier) in enumerate(ahead):
                    thread.join()
                    if "proposal" not in earlier:
                        raise RuntimeError("an earlier prepared proposal failed")
                    point, _ = earlier["proposal"]
                    state["pending"][f"_prepared_{position}"] = dict(zip(names, point.tolist()))
                if ahead:
                    last = ahead[-1][1]["snapshot"]
                    state["sobol_drawn"], state["gp_suggestions"] = last._sobol_drawn, last._gp_suggestions
                    state["hyperparameters"], state["fallbacks"] = last._hyperparameters, list(last.fallbacks)
                snapshot = GpUcbSearcher(names, num_restarts=self.num_restarts, raw_samples=self.raw_samples,
                                         mc_samples=self.mc_samples, lookahead=False)
                snapshot.set_state(state)
                box["snapshot"] = snapshot
                box["proposal"] = snapshot._propose()
            except BaseException as error:  # noqa: BLE001 - the caller computes synchronously instead
                box["error"] = error

        # Not a daemon: an interpreter that exits waits for it (a fraction of a second) instead of
        # killing it inside torch.
        thread = threading.Thread(target=prepare, name="gp-ucb-lookahead")
        thread.start()
        return thread, box

    def _take_prepared(self) -> tuple[torch.Tensor, str] | None:
        """The queue's head (waiting for it if need be), with its snapshot's counters adopted;
        ``None`` when the queue is empty or the head failed (the queue is then dropped)."""
        if not self._prepared:
            return None
        thread, box = self._prepared.pop(0)
        thread.join()
        if "proposal" not in box:
            self._drop_prepared()  # chained on the failed one: they fail too
            return None
        snapshot = box["snapshot"]
        self._sobol_drawn, self._gp_suggestions = snapshot._sobol_drawn, snapshot._gp_suggestions
        self._hyperparameters, self.fallbacks = snapshot._hyperparameters, snapshot.fallbacks
        point, source = box["proposal"]
        self.prepared_used += 1
        if source == "gp-ucb" and self._is_duplicate(point):  # a trial started meanwhile took that point
            self._drop_prepared()  # they counted on this point: start afresh
            return self._next_sobol(), "sobol-duplicate"
        return point, source

    def _drop_prepared(self) -> None:
        """Empty the queue once its threads have finished."""
        for thread, _ in self._prepared:
            thread.join()
        self._prepared = []

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if trial_id in self._pending:
            return dict(self._pending[trial_id])
        started = time.perf_counter()
        if self._requeued:
            config = self._requeued.pop(0)
        else:
            point, source = self._take_prepared() or self._propose()
            config = {name: float(v) for name, v in zip(self.parameter_names, point.tolist())}
            config[SUGGESTION_KEY] = source
        self.wait_seconds.append(time.perf_counter() - started)
        self._pending[trial_id] = config
        self._speculate()
        return dict(config)

    # Observations

    def _signed(self, value: float) -> float:
        return value if self._mode == "max" else -value

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        config = self._pending.pop(trial_id, None)
        if config is None or error or not result:
            return
        value = result.get(self._metric)
        if value is None or not math.isfinite(float(value)):
            return
        self._observed_x.append([config[n] for n in self.parameter_names])
        self._observed_y.append(self._signed(float(value)))

    def add_evaluated_point(self, parameters: dict, value: float, error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        """Add an observation made elsewhere (e.g. a trial restored from the database)."""
        if error or value is None or not math.isfinite(float(value)):
            return
        self._observed_x.append([float(parameters[n]) for n in self.parameter_names])
        self._observed_y.append(self._signed(float(value)))

    def requeue(self, parameters: dict[str, Any]) -> None:
        """Suggest ``parameters`` again before anything new (a trial interrupted by a restart)."""
        config = {n: float(parameters[n]) for n in self.parameter_names}
        config[SUGGESTION_KEY] = parameters.get(SUGGESTION_KEY, "requeued")
        self._requeued.append(config)

    def skip_initial_points(self, count: int) -> None:
        """Advance the Sobol sequence past ``count`` points already used (on resume)."""
        self._sobol_drawn += count

    # Checkpointing

    def get_state(self) -> dict[str, Any]:
        return {
            "parameter_names": self.parameter_names, "n_initial": self.n_initial, "beta": self.beta,
            "seed": self.seed, "observed_x": self._observed_x, "observed_y": self._observed_y,
            "pending": self._pending, "sobol_drawn": self._sobol_drawn, "gp_suggestions": self._gp_suggestions,
            "fallbacks": self.fallbacks, "requeued": self._requeued,
            "hyperparameters": self._hyperparameters, "metric": self._metric, "mode": self._mode,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._prepared = []
        self.parameter_names = list(state["parameter_names"])
        self.n_initial, self.beta, self.seed = state["n_initial"], state["beta"], state["seed"]
        self._observed_x = [list(x) for x in state["observed_x"]]
        self._observed_y = list(state["observed_y"])
        self._pending = {k: dict(v) for k, v in state["pending"].items()}
        self._sobol_drawn, self._gp_suggestions = state["sobol_drawn"], state["gp_suggestions"]
        self.fallbacks = list(state["fallbacks"])
        self._requeued = [dict(c) for c in state.get("requeued", [])]
        self._hyperparameters = dict(state.get("hyperparameters", {}))
        self._metric, self._mode = state["metric"], state["mode"]

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.get_state(), handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.set_state(pickle.load(handle))
