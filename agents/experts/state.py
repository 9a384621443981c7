"""The privileged state vector that scripted experts act on."""

import numpy as np

from loop.protocols import Features
from perception.identity import ObservationKeyError


def privileged_state(features: Features) -> np.ndarray:
    """``features`` itself (a state-mode observation) or its ``"state"`` entry, as float64."""
    if isinstance(features, dict):
        if "state" not in features:
            raise ObservationKeyError(
                f"scripted experts act on the privileged state, but the observation has only "
                f"{sorted(features)}; make the env with privileged_state=True (or obs_mode='state')")
        features = features["state"]
    return np.asarray(features, dtype=float)
