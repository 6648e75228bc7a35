"""Cases for the binary Concrete distributions.

``LogitRelaxedBernoulli`` is the logistic law with location ``logits / temperature``
and scale ``1 / temperature``, so scipy's logistic is its oracle; torch does not
export the class at the top level, so ``test_relaxed_bernoulli.py`` compares it
with ``torch.distributions.relaxed_bernoulli.LogitRelaxedBernoulli`` directly.
"""

import numpy as np
import scipy.stats

from tests.distributions.cases import Case


def _logistic(p):
    logits = p["logits"] if "logits" in p else np.log(p["probs"]) - np.log1p(-p["probs"])
    return scipy.stats.logistic(logits / p["temperature"], 1 / p["temperature"])


CASES = [
    Case(
        "LogitRelaxedBernoulli",
        {"temperature": 0.5, "logits": [-2.0, 0.0, 1.5]},
        scipy=_logistic,
        torch_name="",
        grad_params=("temperature", "logits"),
    ),
    Case(
        "LogitRelaxedBernoulli",
        {"temperature": [0.3, 2.0], "probs": [0.2, 0.9]},
        scipy=_logistic,
        torch_name="",
        label="probs-batched-temperature",
    ),
    Case("RelaxedBernoulli", {"temperature": 0.7, "probs": [0.1, 0.5, 0.9]}, ks=False),
    Case(
        "RelaxedBernoulli",
        {"temperature": [2.2], "logits": [[0.5, -1.0], [3.0, 0.0]]},
        ks=False,
        label="logits",
    ),
]
