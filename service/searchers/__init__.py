"""Ray Tune searchers over the sampler's unit cube: GP-UCB (ours) and the peers random and Optuna."""

from service.searchers.factory import SUGGESTION_KEY, make_searcher, search_space
from service.searchers.gp_ucb import GpUcbSearcher

__all__ = ["SUGGESTION_KEY", "GpUcbSearcher", "make_searcher", "search_space"]
