# SPDX-License-Identifier: Apache-2.0
# strata.open and partitions: zero-copy read-only views of the mapped file, views that outlive
# their Dataset, HDF5, and the exceptions bad files and closed datasets raise.
import gc
import os
import subprocess

import numpy as np
import pytest

import strata


def mapping_of(address):
    """(path, file offset) of the mapping that holds `address`, from /proc/self/maps."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end and len(fields) >= 6:
                return fields[5], int(fields[2], 16) + address - start
    return None, None


def test_view_is_the_mapped_file(gen, inspect):
    # The values are the file's own pages: the array's address lies in a mapping of the file at
    # the array's data offset plus the partition's first row (a copy would be anonymous memory).
    path = gen(dtype="f64", size="4M")
    data_offset = inspect(path)["arrays"][0]["data_offset"]
    ds = strata.open(str(path))
    assert ds.dtype == np.float64 and ds.shape == (524288,) and ds.source == "strata"
    part = ds.partition(1, 2)
    v = part.values()
    address = v.__array_interface__["data"][0]
    mapped_path, offset = mapping_of(address)
    assert mapped_path == os.path.realpath(path)
    assert offset == data_offset + part.rows[0] * 8
    assert part.values().__array_interface__["data"][0] == address
    assert np.asarray(part).__array_interface__["data"][0] == address
    assert v.shape == part.shape == (262144,)


def test_resident_and_node_shared_values_are_copies_with_the_same_values(gen):
    # memory="resident" and "node-shared" give the mapped view's values, read-only, in memory of
    # their own (not the file's mapping); a name that is no memory mode is refused.
    path = gen(dtype="f64", size="4M")
    part = strata.open(str(path)).partition()
    mapped = part.values()
    for memory in ("resident", "node-shared"):
        v = part.values(memory=memory)
        assert not v.flags.writeable
        assert v.shape == mapped.shape and np.array_equal(v, mapped)
        assert mapping_of(v.__array_interface__["data"][0])[0] != os.path.realpath(path)
    with pytest.raises(strata.InvalidArgumentError):
        part.values(memory="swap")


def test_view_is_read_only_and_verified(gen):
    # Writing through a view is refused; taking it verified every checksum chunk it covers.
    path = gen(dtype="f32", size="4M", chunk="256K")
    part = strata.open(str(path)).partition()
    v = part.values()
    assert not v.flags.writeable
    with pytest.raises(ValueError):
        v[0] = 1.0
    assert part.chunks_verified == 16  # 4 MiB in 256 KiB chunks


def test_view_outlives_dataset_and_partition(gen):
    # The array keeps the mapping alive after its Dataset is closed and every handle is gone.
    path = gen(dtype="f64", size="4M")
    ds = strata.open(str(path))
    v = ds.partition().values()
    expected = float(np.array(v, copy=True).sum())
    ds.close()
    del ds
    gc.collect()
    assert float(v.sum()) == expected
    with strata.open(str(path)) as ds2:
        w = ds2.partition().values()
    assert ds2.closed
    assert float(w.sum()) == expected


def test_closed_dataset_raises(gen):
    # Using a closed Dataset raises InvalidArgumentError (a ValueError), naming the file.
    ds = strata.open(str(gen()))
    ds.close()
    with pytest.raises(strata.InvalidArgumentError, match="closed"):
        ds.partition()
    with pytest.raises(ValueError):
        ds.shape


def test_hdf5_partition(strata_cli, gen, tmp_path):
    # An HDF5 dataset gives the same values as the .strata file it was exported from, by rows.
    src = gen(dtype="f64", size="4M")
    h5 = tmp_path / "grid.h5"
    subprocess.run([strata_cli, "export", str(src), str(h5)], check=True, capture_output=True)
    ds = strata.open(f"{h5}:/values")
    assert ds.source == "hdf5"
    whole = ds.partition().values()
    np.testing.assert_array_equal(whole, strata.open(str(src)).partition().values())
    part = ds.partition(2, 3)
    first, count = part.rows
    np.testing.assert_array_equal(part.values(), whole[first:first + count])
    assert strata.stats(part).count == count


def corrupt(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_corrupt_chunk_raises_checksum_error(gen, inspect, tmp_path):
    # A flipped data byte is a ChecksumError naming the chunk, from the kernels and from values().
    src = gen(dtype="f64", size="4M", chunk="1M")
    path = tmp_path / "bad.strata"
    path.write_bytes(src.read_bytes())
    corrupt(path, inspect(path)["arrays"][0]["data_offset"] + 3 * 2**20 + 5)
    with pytest.raises(strata.ChecksumError) as e:
        strata.stats(strata.open(str(path)).partition())
    assert isinstance(e.value, strata.CorruptDataError) and isinstance(e.value, strata.Error)
    assert e.value.category == "corrupt_data" and e.value.context["chunk"] == "3"
    assert e.value.context["file"] == str(path)
    with pytest.raises(strata.ChecksumError):
        strata.open(str(path)).partition().values()
    # The chunks before the bad one are fine.
    assert strata.stats(strata.open(str(path)).partition(0, 2)).count == 262144


def test_bad_files_raise_format_and_file_errors(gen, tmp_path):
    # A broken header is a FormatError; a missing file a FileError (an OSError); a missing array
    # an InvalidArgumentError; an unsupported dtype a TypeError from the kernels.
    path = tmp_path / "magic.strata"
    path.write_bytes(gen().read_bytes())
    corrupt(path, 0)
    with pytest.raises(strata.FormatError) as e:
        strata.open(str(path))
    assert "file" in e.value.context and str(path) in str(e.value)
    with pytest.raises(strata.FileError) as missing:
        strata.open(str(tmp_path / "missing.strata"))
    assert isinstance(missing.value, OSError)
    with pytest.raises(strata.InvalidArgumentError):
        strata.open(f"{gen()}:nosucharray")
    with pytest.raises(TypeError, match="u8"):
        strata.stats(strata.open(str(gen(dtype="u8", low=0, high=200))).partition())
    with pytest.raises(strata.InvalidArgumentError):
        strata.open(str(gen())).partition(2, 2)
