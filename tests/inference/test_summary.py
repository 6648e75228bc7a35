"""summary: statistics per site against numpy, the printed table, errors."""

import numpy as np
import pytest
import torch

from inference import summary


def test_statistics_match_numpy_per_element():
    draws = {"a": torch.randn(500), "b": torch.randn(500, 2, 3)}
    result = summary(draws, quantiles=(0.1, 0.9))
    for name, value in draws.items():
        x = value.numpy()
        stats = result[name]
        assert list(stats) == ["mean", "std", "10%", "90%"]
        np.testing.assert_allclose(stats["mean"], x.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats["std"], x.std(0, ddof=1), rtol=1e-5)
        np.testing.assert_allclose(stats["10%"], np.quantile(x, 0.1, axis=0), rtol=1e-5)
        np.testing.assert_allclose(stats["90%"], np.quantile(x, 0.9, axis=0), rtol=1e-5)


def test_table_has_one_row_per_element_and_integer_sites_work():
    table = str(summary({"theta": torch.randn(50, 2, 2), "k": torch.arange(50)}))
    lines = table.splitlines()
    assert lines[0].split() == ["mean", "std", "5%", "50%", "95%"]
    assert [line.split()[0] for line in lines[1:]] == [
        "theta[0,0]",
        "theta[0,1]",
        "theta[1,0]",
        "theta[1,1]",
        "k",
    ]
    assert str(summary({})) == "(no sites)"


def test_errors():
    with pytest.raises(ValueError, match="site 'x' has shape \\(1,\\); expected at least two"):
        summary({"x": torch.zeros(1)})
    with pytest.raises(ValueError, match="quantiles must be a 1-d list of levels in \\[0, 1\\]"):
        summary({"x": torch.zeros(3)}, quantiles=(1.5,))
