# SPDX-License-Identifier: Apache-2.0
# strata.stats/histogram/count/summarize against NumPy on the same values, for every supported
# dtype, on plain NumPy arrays and on dataset partitions; and the inputs they must refuse.
import numpy as np
import pytest

import strata

DTYPES = [np.float32, np.float64, np.int32, np.int64]


def random_values(dtype, n=300_001, seed=7):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        return (rng.random(n) * 100).astype(dtype)
    return rng.integers(-50, 150, n).astype(dtype)


def check_stats(s, v):
    exact = v.astype(np.float64)  # float32 accumulates in float64 in strata
    assert s.count == v.size and s.nan_count == 0
    assert s.min == v.min() and s.max == v.max()
    if np.issubdtype(v.dtype, np.integer):
        assert s.sum == int(v.astype(np.int64).sum())  # exact integer sum
        assert isinstance(s.sum, int) and isinstance(s.min, int)
    else:
        assert s.sum == pytest.approx(exact.sum(), rel=1e-12)
    assert s.mean == pytest.approx(exact.mean(), rel=1e-12)
    assert s.variance == pytest.approx(exact.var(), rel=1e-10)
    assert s.stddev == pytest.approx(exact.std(), rel=1e-10)
    assert s.sample_variance == pytest.approx(exact.var(ddof=1), rel=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_results_equal_numpy(dtype):
    # Each kernel on a NumPy array gives NumPy's answer: a wrong dispatch, chunk merge or
    # dtype reading would change a count, an extreme or a moment.
    v = random_values(dtype)
    check_stats(strata.stats(v), v)
    h = strata.histogram(v, 40, (-20, 120))
    expected, edges = np.histogram(v, 40, (-20, 120))
    assert (h.counts == expected).all()
    assert h.counts.dtype == np.uint64
    np.testing.assert_allclose(h.edges, edges, rtol=1e-15)
    assert h.underflow == (v < -20).sum() and h.overflow == (v > 120).sum()
    assert strata.count(v, ">", 90) == (v > 90).sum()
    assert strata.count(v, "<=", 10) == (v <= 10).sum()
    assert strata.count(v, "==", 42) == (v == 42).sum()
    assert strata.count(v, "!=", 42) == (v != 42).sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_multidimensional_array(dtype):
    # A C-contiguous 2-D array is read as its flat values.
    v = random_values(dtype, 200 * 301).reshape(200, 301)
    check_stats(strata.stats(v), v.ravel())


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32", "i64"])
def test_partition_results_equal_numpy(gen, dtype):
    # On a dataset partition (verified pass) the results equal NumPy's on the partition's values.
    path = gen(dtype=dtype, size="6M", low=-10, high=110)
    ds = strata.open(str(path))
    for rank in range(3):
        part = ds.partition(rank, 3)
        v = part.values()
        check_stats(strata.stats(part), v)
        h = strata.histogram(part, 64, (0, 100))
        assert (h.counts == np.histogram(v, 64, (0, 100))[0]).all()
        assert strata.count(part, ">", 90) == (v > 90).sum()


def test_summarize_equals_separate_calls():
    # The one-pass combination gives each member's own result.
    v = random_values(np.float64)
    r = strata.summarize(v, bins=32, range=(0, 100), count=(">", 90.5))
    alone = strata.stats(v)
    assert (r.stats.sum, r.stats.variance, r.stats.min) == (alone.sum, alone.variance, alone.min)
    assert (r.histogram.counts == strata.histogram(v, 32, (0, 100)).counts).all()
    assert r.count == strata.count(v, ">", 90.5) == (v > 90.5).sum()
    only = strata.summarize(v)
    assert only.histogram is None and only.count is None and only.stats.sum == alone.sum


def test_nan_and_empty():
    # NaNs are counted apart; no values means None, not a made-up number.
    v = np.array([1.0, np.nan, 3.0])
    s = strata.stats(v)
    assert (s.count, s.nan_count, s.mean) == (2, 1, 2.0)
    e = strata.stats(np.array([], dtype=np.float64))
    assert e.count == 0 and e.mean is None and e.min is None and e.stddev is None


def test_include_high_follows_numpy_by_default():
    # A value equal to the top edge counts in the last bin, as numpy.histogram does.
    v = np.array([0.0, 50.0, 100.0])
    assert list(strata.histogram(v, 2, (0, 100)).counts) == [1, 2]
    h = strata.histogram(v, 2, (0, 100), include_high=False)
    assert list(h.counts) == [1, 1] and h.overflow == 1


def test_merge_partial_results():
    # Partial results of two halves merge into the whole's.
    v = random_values(np.float64)
    a, b = strata.stats(v[:1000]), strata.stats(np.ascontiguousarray(v[1000:]))
    a.merge(b)
    assert a.count == v.size and a.mean == pytest.approx(v.mean(), rel=1e-12)


def test_refuses_what_it_cannot_read_in_place():
    # Strided arrays, other dtypes, non-arrays and bad arguments raise the documented errors.
    v = random_values(np.float64)
    with pytest.raises(ValueError, match="not C-contiguous"):
        strata.stats(v[::2])
    with pytest.raises(ValueError, match="not C-contiguous"):
        strata.histogram(v[:1000].reshape(10, 100).T, 8, (0, 100))
    for bad in (np.float16, np.uint8, np.int16, np.complex128):
        with pytest.raises(TypeError, match="not supported"):
            strata.stats(v[:10].astype(bad))
    with pytest.raises(TypeError, match="not supported"):
        strata.stats(v.astype(v.dtype.newbyteorder()))  # big-endian float64
    with pytest.raises(TypeError, match="numpy.ndarray or a strata.Partition"):
        strata.stats([1.0, 2.0])
    with pytest.raises(ValueError, match="op must be one of"):
        strata.count(v, "=>", 1)
    with pytest.raises(ValueError):
        strata.histogram(v, 8, (5, 5))
    with pytest.raises(ValueError):
        strata.histogram(v, 0, (0, 1))
    ints = random_values(np.int32)
    with pytest.raises(ValueError, match="whole number"):
        strata.count(ints, ">", 90.5)
    with pytest.raises(ValueError, match="outside the range"):
        strata.count(ints, ">", 2**40)
    assert strata.count(ints, ">", 90.0) == (ints > 90).sum()
    with pytest.raises(ValueError, match="bins and range"):
        strata.summarize(v, bins=8)


def test_runtime_is_one_per_process():
    # The kernels' runtime is the process's; a second explicit one is refused.
    rt = strata.runtime()
    assert rt.size >= 1 and 0 <= rt.rank < rt.size and rt.threads >= 1
    assert strata.runtime().threads == rt.threads
    with pytest.raises(strata.InvalidArgumentError, match="already exists"):
        strata.Runtime(threads=1)
