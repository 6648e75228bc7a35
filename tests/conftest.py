"""Suite-wide fixtures: a fixed seed, validation on, and a clean parameter store."""

import os
import random

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")

import distributions  # noqa: E402
import ppl  # noqa: E402

# pytest-xdist runs one worker per core; more intra-op threads would only
# oversubscribe the cores and slow every worker down.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fresh_state():
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    # Both switches: the runtime's site checks and the distributions' default
    # (ppl's switch sets the latter too, but a test may flip only one of them).
    ppl.enable_validation(True)
    distributions.Distribution.set_default_validate_args(True)
    ppl.clear_param_store()
    yield
    ppl.clear_param_store()
    ppl.enable_validation(True)
    distributions.Distribution.set_default_validate_args(True)
