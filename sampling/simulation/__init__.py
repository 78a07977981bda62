"""Simulation: run plan -> recruit -> reweight -> evaluate many times on a known population.

Sampling policies (:class:`Policy` and the built-in ones), :func:`simulate_policies` and the
synthetic learning problem used to check adaptive allocation against an oracle
(:class:`LearningProblem`, :func:`default_problem`, :func:`run_policy`).
"""

from sampling.simulation._learning_problem import (
    LearningProblem,
    default_problem,
    equal_counts,
    expected_error,
    oracle_counts,
    proportional_counts,
    run_policy,
)
from sampling.simulation._policies import (
    AdaptivePolicy,
    AllocationPolicy,
    ConveniencePolicy,
    Draw,
    EqualPolicy,
    Policy,
    PolicyContext,
    ProportionalPolicy,
    QuotaPolicy,
    SensitivityPolicy,
    SimpleRandomPolicy,
)
from sampling.simulation._simulate import (
    Evaluation,
    GaussianRatings,
    PolicySimulation,
    policy_context,
    simulate_policies,
)

__all__ = [
    "AdaptivePolicy",
    "AllocationPolicy",
    "ConveniencePolicy",
    "Draw",
    "EqualPolicy",
    "Evaluation",
    "GaussianRatings",
    "LearningProblem",
    "Policy",
    "PolicyContext",
    "PolicySimulation",
    "ProportionalPolicy",
    "QuotaPolicy",
    "SensitivityPolicy",
    "SimpleRandomPolicy",
    "default_problem",
    "equal_counts",
    "expected_error",
    "oracle_counts",
    "policy_context",
    "proportional_counts",
    "run_policy",
    "simulate_policies",
]
