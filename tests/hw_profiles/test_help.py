"""HELP's CSVs: every malformed input is one `DataFileError` naming the file, line and column."""

from __future__ import annotations

import pytest

from hwnas.errors import DataFileError
from hwnas.hw_profiles._help import column_batch, read_help_csv

HEADER = "index,ks,e,d,r,v100_1\n"
ROW = "0," + "-".join(["3"] * 20) + "," + "-".join(["4"] * 20) + ",2-3-4-2-3,160,"


@pytest.mark.parametrize("text,message", [
    ("index,foo\n0,1\n", "not a HELP latency CSV"),
    ("index,ks,e,d,r\n", "no device columns"),
    (HEADER, "no measurements"),
    (HEADER + ROW + "abc\n", "line 2, column 'v100_1': 'abc' is not a number"),
    (HEADER + ROW + "-1\n", "line 2, column 'v100_1' = -1 must be positive"),
    (HEADER + ROW.replace("2-3-4-2-3", "2-3") + "5\n", "line 2, column 'd': 2 values, expected 5"),
    (HEADER + ROW.replace(",160,", ",big,") + "5\n", "line 2, column 'r': 'big' is not an integer"),
])
def test_malformed_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message):
        read_help_csv(path)


def test_a_row_maps_to_an_arch_and_columns_to_batches(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(HEADER + ROW + "5.5\n")
    data = read_help_csv(path)
    assert data.archs[0]["s3_kernel"] == [3, 3, 3, 3] and data.archs[0]["s1_expand"] == [4, 4] and data.archs[0]["resolution"] == 160
    assert data.column("v100_1").tolist() == [5.5]
    with pytest.raises(DataFileError, match="no device column 'gpu'; columns: v100_1"):
        data.column("gpu")
    assert (column_batch("2080ti_32"), column_batch("pixel2"), column_batch("v100_1")) == (32, 1, 1)
    with pytest.raises(DataFileError, match="file not found"):
        read_help_csv(tmp_path / "missing.csv")
