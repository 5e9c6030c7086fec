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


def test_every_layer_is_checked_for_its_type_and_value():
    """Per-layer values are checked by value when the arch holds only ints and strs, else by type and value: a float
    in one layer is normalised, a boolean, an undeclared value or a string subclass in any layer is refused."""
    import numpy as np

    space = get_space("mixed-attention", "hat-wmt14-en-de")
    arch = space.sample(4)
    heads, kinds = list(arch["decoder_heads"]), list(arch["decoder_attn"])
    last = len(heads) - 1
    same = space.validate({**arch.to_dict(), "decoder_heads": [*heads[:last], float(heads[last])]})
    assert same == arch and type(same["decoder_heads"][last]) is int
    for field, bad, word in (("decoder_heads", [*heads[:last], True], "= True"), ("decoder_heads", [*heads[:last], 3], "= 3"),
                             ("decoder_attn", [*kinds[:last], "linear"], "'linear'"),
                             ("encoder_ffn_dim", [2048] * 5 + [2048.5], "2048.5")):
        with pytest.raises(InvalidArchError, match=word):
            space.validate({**arch.to_dict(), field: bad})

    class Kind(str):
        pass

    with pytest.raises(InvalidArchError, match="decoder_attn"):
        space.validate({**arch.to_dict(), "decoder_attn": [*kinds[:last], Kind(kinds[last])]})
    assert space.validate({**arch.to_dict(), "decoder_attn": [np.str_(k) for k in kinds]}) == arch  # frozen to str


def test_a_choice_of_floats_checks_each_layers_type():
    """A declared float given as an int (1 for 1.0) is normalised to the float in every layer."""
    from hwnas.search_spaces import ChoiceSpace
    from hwnas.search_spaces._choices import Depth, PerLayer

    space = ChoiceSpace([Depth("depth", [1, 2]), PerLayer("ratio", [0.5, 1.0], depth="depth")])
    point = space.validate({"depth": 2, "ratio": [1, 0.5]})
    assert point["ratio"] == (1.0, 0.5) and type(point["ratio"][0]) is float
    with pytest.raises(InvalidArchError, match="has 1 values but 2 layers"):
        space.validate({"depth": 2, "ratio": [0.5]})


def test_a_fixed_depth_may_be_any_int():
    """A per-layer choice of a fixed number of layers, given as an int subclass, counts that many layers."""
    import enum

    from hwnas.search_spaces import ChoiceSpace
    from hwnas.search_spaces._choices import Choice, PerLayer

    class Layers(enum.IntEnum):
        THREE = 3

    space = ChoiceSpace([PerLayer("width", [8, 16], depth=Layers.THREE), Choice("c", [1])])
    assert space.validate({"width": [8, 16, 8], "c": 1})["width"] == (8, 16, 8)
    with pytest.raises(InvalidArchError, match="has 2 values but 3 layers"):
        space.validate({"width": [8, 16], "c": 1})
