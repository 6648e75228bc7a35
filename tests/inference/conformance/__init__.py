"""Conformance harness of the ELBO estimators (issue 13): unbiased on many small programs.

Layout:

* :mod:`.blocks`, :mod:`.flow_blocks`: model/guide fragments (latent
  structures; data-flow features);
* :mod:`.programs`: the seeded table of programs built from them;
* :mod:`.oracle`: exact ELBO, gradient and Hessian by enumerating every guide
  draw (discrete values, Gauss-Hermite nodes, subsamples);
* :mod:`.sampling`: seeded Monte Carlo draws of each estimator and the t-test
  (family-wise false-alarm rate below 1e-3);
* :mod:`.cases`: which estimator and baseline meet which program;
* ``test_*.py``: unbiasedness, variance, second derivatives, the seven named
  regressions of issue 13, the oracle's own checks and the comparison budget.
"""
