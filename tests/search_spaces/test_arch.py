import json
import subprocess
import sys

import pytest

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import Arch


def test_arch_is_order_independent_and_immutable():
    a = Arch({"heads": [2, 4], "embed_dim": 64})
    b = Arch(embed_dim=64, heads=(2, 4))
    assert a == b and hash(a) == hash(b) and a.id == b.id
    assert a["heads"] == (2, 4)
    with pytest.raises(AttributeError):
        a.foo = 1  # type: ignore[attr-defined]
    assert a.replace(embed_dim=32) != a and a["embed_dim"] == 64


def test_arch_id_is_stable_across_processes():
    arch = Arch({"embed_dim": 64, "heads": [2, 4], "attn": ["softmax", "cosformer"]})
    code = "from hwnas.search_spaces import Arch; import json,sys; print(Arch(json.loads(sys.argv[1])).id)"
    out = subprocess.run([sys.executable, "-c", code, json.dumps(arch.to_dict())], capture_output=True, text=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, check=True, cwd=".")
    assert out.stdout.strip() == arch.id
    assert len(arch.id) == 16 and int(arch.id, 16) >= 0


def test_from_json_errors_are_one_line():
    with pytest.raises(InvalidArchError, match="not valid JSON"):
        Arch.from_json("{embed")
    with pytest.raises(InvalidArchError, match="must be an object"):
        Arch.from_json("[1, 2]")
    with pytest.raises(InvalidArchError, match="'x'"):
        Arch({"x": {"nested": 1}})
