"""Reparameterizers for :class:`ppl.handlers.reparam` (Pyro's ``pyro.infer.reparam``).

``LocScaleReparam`` (centered to non-centered, or a learned centeredness),
``TransformReparam`` (sample the base of a ``TransformedDistribution``) and
``StudentTReparam`` (a Student-t as a Gaussian scale mixture), the
``AutoReparam`` strategy choosing among them per site; ``Reparam`` is the
base class for writing more.

Example:
    >>> import ppl
    >>> from distributions import Normal
    >>> def model():
    ...     return ppl.sample("x", Normal(3.0, 2.0))
    >>> model = ppl.handlers.reparam(model, config={"x": LocScaleReparam(centered=0.0)})
    >>> ppl.handlers.trace(model).get_trace().stochastic_nodes
    ['x_decentered']
"""

from ppl.reparam.loc_scale import LocScaleReparam
from ppl.reparam.reparam import Reparam, as_deterministic, unwrap, wrap
from ppl.reparam.strategies import AutoReparam
from ppl.reparam.student_t import StudentTReparam
from ppl.reparam.transform import TransformReparam, is_transformed, register_transformed_view

__all__ = [
    "AutoReparam",
    "LocScaleReparam",
    "Reparam",
    "StudentTReparam",
    "TransformReparam",
    "as_deterministic",
    "is_transformed",
    "register_transformed_view",
    "unwrap",
    "wrap",
]
