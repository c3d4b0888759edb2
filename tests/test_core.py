"""netdream._core: the compiled module's typed boundary (bound specs and
enums, the stub), its random streams and its limits."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import netdream
from netdream import _core

from reference import Rng


def test_rng_mirror_matches_core():
    for seed, stream in [(0, 0), (12345, 7), (2**64 - 1, 2**40)]:
        ref = Rng(seed, stream)
        np.testing.assert_array_equal(_core.rng_uniform(seed, stream, 50),
                                      [ref.uniform() for _ in range(50)])


def test_the_stub_declares_every_public_name():
    stub = Path(netdream.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    declared = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    declared |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign | ast.Assign)
                 for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                 if isinstance(t, ast.Name)}
    public = {name for name in dir(_core) if not name.startswith("_")}
    assert public <= declared, public - declared
    assert (stub.parent / "py.typed").is_file()


def test_specs_name_every_field_and_refuse_unknown_ones():
    spec = _core.HillSpec(steps=10, step_size=0.2, seed=3,
                          goal=_core.Goal(kind=_core.TargetKind.output, index=4,
                                          objective=_core.Objective.margin))
    assert (spec.steps, spec.step_size, spec.seed) == (10, 0.2, 3)
    assert spec.goal.index == 4 and spec.goal.objective == _core.Objective.margin
    with pytest.raises(AttributeError):
        _core.HillSpec(stpes=10)  # a typo is an error, not silently ignored
    with pytest.raises(TypeError):
        _core.GaSpec(selection=1)  # enums are types, not integer codes
    assert _core.Objective.__members__.keys() >= {"logprob", "prob", "margin", "logit"}


def test_core_checks_what_python_might_miss():
    net = netdream.MLP.pretrained()
    spec = _core.HillSpec(steps=10, goal=_core.Goal(index=12))
    with pytest.raises(ValueError, match="target class 12 out of range"):
        _core.hill_climb(net.core, spec, np.zeros((1, 784)), 1)
    spec = _core.HillSpec(steps=10, step_size=0.0)
    with pytest.raises(ValueError, match="step_size"):
        _core.hill_climb(net.core, spec, np.zeros((1, 784)), 1)
    ga = _core.GaSpec(population=10, tournament=11)
    with pytest.raises(ValueError, match="tournament"):
        _core.evolve(net.core, ga, 1)


def test_thread_counts_are_capped_in_the_core():
    assert 1 <= _core.max_threads() <= 4 * max(1, __import__("os").cpu_count())


def test_isa_dispatch_lists_what_this_cpu_runs():
    isas = _core.available_isas()
    assert "base" in isas and _core.isa() in isas
    with pytest.raises(ValueError, match="not built in"):
        _core.set_isa("sse9")
