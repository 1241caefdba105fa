"""converter.parity.compare: a NaN in either output fails clearly (not "max abs diff nan")."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.parity import compare
from crnn_deploy.models.specs import get_spec

SPEC = get_spec("crnn")


class Fixed:
    """A runner whose (26, N, 37) output is ``value`` everywhere."""

    def __init__(self, value: float):
        self.value = value

    def infer(self, x):
        return np.full((26, len(x), 37), self.value, np.float32)


@pytest.mark.parametrize("ref, cand, side", [(0.0, np.nan, "converted model"),
                                             (np.nan, 0.0, "reference"),
                                             (0.0, np.inf, "converted model")])
def test_a_nan_output_is_said_to_be_one(ref, cand, side):
    with pytest.raises(UserError, match=f"the {side}'s output holds NaN or infinity") as err:
        compare("ORT vs X", SPEC, [2], Fixed(ref), Fixed(cand))
    assert "nan" not in str(err.value)
    assert compare("ORT vs X", SPEC, [2], Fixed(1.0), Fixed(1.0)) == 0.0
