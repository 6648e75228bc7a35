"""inference package."""

__all__: list = []

# --- predictive, summary, importance, autoguides (issue 7) ---------------------
from inference import autoguide  # noqa: E402
from inference.importance import Importance  # noqa: E402
from inference.predictive import Predictive  # noqa: E402
from inference.sample_map import VectorizationWarning  # noqa: E402
from inference.summary import summary  # noqa: E402

__all__ += ["autoguide", "Importance", "Predictive", "VectorizationWarning", "summary"]
# --- end of issue 7 block ------------------------------------------------------
