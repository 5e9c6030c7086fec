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


class _Hardware(Arch):
    """A point type of another space (pickle finds it by its module-level name)."""

    __slots__ = ()


def test_an_arch_pickles_and_copies_as_its_choices():
    """Ray and multiprocessing pickle archs; an immutable arch is rebuilt from its choices, of its own type."""
    import copy
    import pickle

    for arch in (Arch({"heads": [2, 4], "attn": ["softmax"], "ratio": 0.5}), _Hardware(pes=64)):
        for back in (pickle.loads(pickle.dumps(arch)), copy.deepcopy(arch), copy.copy(arch)):
            assert back == arch and type(back) is type(arch) and back.id == arch.id
            assert back.ints_and_strs == arch.ints_and_strs


def test_an_arch_knows_whether_it_holds_only_ints_and_strs():
    """Validation checks values alone when no value could stand for another type's (1.0 == 1 == True)."""
    import numpy as np

    assert Arch(heads=[2, 4], attn=["softmax"], embed=64).ints_and_strs and Arch().ints_and_strs
    assert Arch(heads=[np.int64(2)], attn=[np.str_("softmax")]).ints_and_strs  # numpy scalars become Python ones
    for odd in ({"heads": [2, 4.0]}, {"heads": [True]}, {"embed": 64.0}, {"embed": False}):
        assert not Arch(odd).ints_and_strs


def test_from_json_errors_are_one_line():
    with pytest.raises(InvalidArchError, match="not valid JSON"):
        Arch.from_json("{embed")
    with pytest.raises(InvalidArchError, match="must be an object"):
        Arch.from_json("[1, 2]")
    with pytest.raises(InvalidArchError, match="'x'"):
        Arch({"x": {"nested": 1}})
