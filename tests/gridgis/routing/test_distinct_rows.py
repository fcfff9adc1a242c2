"""distinct_rows gives what np.unique over rows gives, without sorting rows."""

from __future__ import annotations

import numpy as np
import pytest

from gridgis.routing.distinct import distinct_rows


@pytest.mark.parametrize("seed", range(5))
def test_distinct_rows_matches_unique_over_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 2000))
    columns = (
        rng.integers(0, 4, n),
        np.where(rng.random(n) < 0.5, rng.integers(0, 10**9, n), -1),
        rng.integers(-(2**62), 2**62, n) // int(rng.integers(1, 2**60)),
    )
    rows, inverse = distinct_rows(*columns)
    expected, expected_inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.ravel())
    np.testing.assert_array_equal(rows[inverse], np.column_stack(columns))


def test_distinct_rows_of_one_row() -> None:
    rows, inverse = distinct_rows(np.array([3]), np.array([-1]))
    assert rows.tolist() == [[3, -1]]
    assert inverse.tolist() == [0]
