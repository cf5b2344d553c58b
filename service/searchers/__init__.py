"""Ray Tune searchers over the sampler's unit cube: GP-UCB (ours) and the peers random and Optuna."""

from service.searchers.factory import SUGGESTION_KEY, SearchHistory, make_searcher
from service.searchers.gp_ucb import GpUcbSearcher

__all__ = ["SUGGESTION_KEY", "GpUcbSearcher", "SearchHistory", "make_searcher"]
