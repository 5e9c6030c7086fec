"""`validate` normalises a number given as another type of a declared value, and refuses the rest."""

from __future__ import annotations

import pytest

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import all_space_presets, get_space


@pytest.mark.parametrize("name,preset", all_space_presets())
def test_a_float_for_a_declared_int_is_the_same_arch(name, preset):
    space = get_space(name, preset)
    arch = space.max_arch()
    data = arch.to_dict()
    ints = [k for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)]
    layered = [k for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], int) and not isinstance(v[0], bool)]
    for key in ints:
        data[key] = float(data[key])
    for key in layered:
        data[key] = [float(v) for v in data[key]]
    same = space.validate(data)
    assert same.id == arch.id and same == arch
    assert all(type(same[k]) is int for k in ints)
    assert space.ops(same) == space.ops(arch)


def test_numbers_that_are_not_declared_or_are_booleans_are_refused():
    space = get_space("mixed-attention", "tiny")
    data = space.max_arch().to_dict()
    for bad, word in ((data["embed_dim"] + 0.5, "is not one of"), (True, "= True"), ("48", "'48'"), ([48], "is not one of")):
        with pytest.raises(InvalidArchError, match=word):
            space.validate({**data, "embed_dim": bad})
