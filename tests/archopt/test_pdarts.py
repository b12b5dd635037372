"""PDARTS building blocks (spec §6, tests 37-45)."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdal.archopt import base, pdarts

C = 4


def _apply(module, x, **kw):
  v = module.init({"params": jax.random.key(0), "dropout": jax.random.key(1)},
                  x, **kw)
  return module.apply(v, x, **kw, rngs={"dropout": jax.random.key(2)},
                      mutable=["batch_stats"])[0], v


@pytest.mark.parametrize("index,stride",
                         list(itertools.product(range(8), (1, 2))))
def test_operation_shapes(index, stride):
  x = jax.random.normal(jax.random.key(3), (2, 8, 8, C))
  out, _ = _apply(pdarts.Operation(index, C, stride), x, train=True)
  assert out.shape == (2, 8 // stride, 8 // stride, C)
  if pdarts.PRIMITIVES[index] == "none":
    assert not np.asarray(out).any()
  if pdarts.PRIMITIVES[index] == "skip_connect" and stride == 1:
    np.testing.assert_array_equal(out, x)


def test_cell_edges_channels_and_reduction():
  assert pdarts.NUM_EDGES == 14
  inputs = pdarts.edge_inputs()
  for node in range(4):
    assert [j for i, j in inputs if i == node] == list(range(2 + node))
  switches = [tuple(range(8))] * 14
  w = jnp.full((14, 8), 1 / 8)
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, C))
  for reduction, hw in ((False, 8), (True, 4)):
    cell = pdarts.Cell(C, reduction, False, switches)
    v = cell.init(jax.random.key(1), x, x, w, train=False)
    out = cell.apply(v, x, x, w, train=False)
    assert out.shape == (2, hw, hw, 4 * C)
    mixed = [k for k in v["params"] if k.startswith("MixedOp")]
    assert len(mixed) == 14


def test_network_reductions_and_classifier_width():
  net = pdarts.SearchNetwork(num_classes=3, channels=C, layers=5)
  assert pdarts.reduction_cells(5) == (1, 3)
  assert pdarts.reduction_cells(17) == (5, 11)
  x = jnp.ones((2, 16, 16, 1))
  v = net.init({"params": jax.random.key(0)}, x)
  assert v["params"]["classifier"]["kernel"].shape == (4 * C * 4, 3)
  logits, feats = net.apply(v, x)
  assert logits.shape == (2, 3) and feats.shape == (2, 64)


def test_mixed_op_is_the_weighted_sum():
  x = jax.random.normal(jax.random.key(4), (2, 8, 8, C))
  ops = (1, 3, 4)
  mixed = pdarts.MixedOp(C, 1, ops)
  alpha = jnp.array([0.3, -0.2, 1.1])
  w = jax.nn.softmax(alpha)
  v = mixed.init(jax.random.key(0), x, w, train=False)
  got = mixed.apply(v, x, w, train=False)
  want = 0.0
  for k, index in enumerate(ops):
    op_vars = jax.tree.map(lambda t: t, {
        col: v[col][f"Operation_{k}"] for col in v
        if f"Operation_{k}" in v[col]})
    want = want + w[k] * pdarts.Operation(index, C, 1).apply(
        op_vars, x, train=False)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  one_hot = jax.nn.softmax(jnp.array([0.0, 0.0, 50.0]))
  only_sep = mixed.apply(v, x, one_hot, train=False)
  sep = pdarts.Operation(4, C, 1).apply(
      {col: v[col]["Operation_2"] for col in v if "Operation_2" in v[col]},
      x, train=False)
  np.testing.assert_allclose(only_sep, sep, rtol=1e-5, atol=1e-5)


def test_skip_dropout_schedule():
  rate = pdarts.skip_dropout_rate
  assert rate(0.4, 0, 25, 10) == pytest.approx(0.384)
  assert rate(0.4, 9, 25, 10) == pytest.approx(0.24)
  assert rate(0.4, 10, 25, 10) == pytest.approx(0.4)
  assert rate(0.4, 15, 25, 10) == pytest.approx(0.4 * np.exp(-1))


@pytest.mark.slow  # The supernet's gradient compiles for ~2 min here.
def test_arch_step_moves_only_alphas_and_weight_step_only_weights():
  net = pdarts.SearchNetwork(num_classes=3, channels=C, layers=3)
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 1))
  y = jnp.arange(4) % 3
  v = net.init({"params": jax.random.key(1)}, x)
  params = v["params"]
  weights_tx, alphas_tx = pdarts.search_optimizers()

  def grads(p):
    def loss(p):
      logits, _ = net.apply({"params": p, "batch_stats": v["batch_stats"]},
                            x, train=True, mutable=["batch_stats"])[0]
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return jax.grad(loss)(p)

  g = grads(params)
  for tx, moved in ((alphas_tx, "arch"), (weights_tx, "weights")):
    updates, _ = tx.update(g, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    for name in params:
      changed = not all(np.array_equal(a, b) for a, b in zip(
          jax.tree.leaves(new[name]), jax.tree.leaves(params[name]),
          strict=True))
      is_arch = name in pdarts.ARCH_PARAMS
      assert changed == (is_arch == (moved == "arch")), (moved, name)


def test_dropping_operations():
  switches = [list(range(8))] * 2
  alphas = np.array([[0.5, 0.1, 0.1, 0.9, 0.0, 2.0, 1.0, 0.3],
                     [1.0] * 8])
  kept = pdarts.drop_operations(switches, alphas, 0)
  assert kept[0] == [0, 3, 5, 6, 7]  # the 3 smallest (ties: lowest first)
  assert kept[1] == [3, 4, 5, 6, 7]
  kept = pdarts.drop_operations([[0, 3, 5, 6, 7]], np.array(
      [[0.2, 0.1, 0.9, -1.0, 0.4]]), 1)
  assert kept == [[0, 5, 7]]
  # Last stage: `none` goes even when it is the strongest.
  kept = pdarts.drop_operations([[0, 5, 7]], np.array([[5.0, 0.1, 0.2]]), 2)
  assert kept == [[7]]


def _official_derivation(alphas_n, alphas_r, sw_n, sw_r, max_skip):
  """Line-by-line NumPy port of the official keep_1_on / keep_2_branches /
  skip-restriction loop, on boolean switch matrices [14][8]."""
  def softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)

  def to_matrix(sw):
    m = np.zeros((14, 8), bool)
    for e, ops in enumerate(sw):
      m[e, ops] = True
    return m

  def full_probs(alphas, sw):
    p = np.zeros((14, 8))
    sm = softmax(alphas)
    for e, ops in enumerate(sw):
      p[e, ops] = sm[e]
      if 0 in ops:
        p[e, 0] = 0.0  # 'none' never wins the final choice
    return p

  def keep_1_on(m, p):
    out = np.zeros_like(m)
    for e in range(14):
      idxs = np.flatnonzero(m[e] & (np.arange(8) != 0))
      out[e, idxs[np.argmax(p[e, idxs])]] = True
    return out

  def keep_2_branches(m, p):
    m = m.copy()
    strength = (p * m).max(1)
    start = 2
    for n in range(3):
      end = start + n + 3
      tb = strength[start:end]
      for j in sorted(range(n + 3), key=lambda x: tb[x])[:-2]:
        m[start + j] = False
      start = end
    return m

  def genotype(m):
    inputs = pdarts.edge_inputs()
    return [(pdarts.PRIMITIVES[int(np.flatnonzero(m[e])[0])], inputs[e][1])
            for e in range(14) if m[e].any()]

  m_n2, m_r2 = to_matrix(sw_n), to_matrix(sw_r)
  p_n, p_r = full_probs(alphas_n, sw_n), full_probs(alphas_r, sw_r)
  m_r = keep_2_branches(keep_1_on(m_r2, p_r), p_r)
  m_n = keep_2_branches(keep_1_on(m_n2, p_n), p_n)
  for sk in range(8, -1, -1):
    if sk < max_skip:
      break
    while m_n[:, 3].sum() > sk:
      skip_edges = np.flatnonzero(m_n[:, 3])
      weakest = skip_edges[np.argmin(p_n[skip_edges, 3])]
      p_n[weakest, 3] = 0.0
      m_n = keep_2_branches(keep_1_on(m_n2, p_n), p_n)
  return genotype(m_n), genotype(m_r)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_skip", [0, 1, 2, 8])
def test_derivation_matches_the_official_loop(seed, max_skip):
  rng = np.random.default_rng(seed)
  # Stage-2 switches: 3 ops per edge, often including none and skip.
  sw_n = [sorted(rng.choice(8, 3, replace=False).tolist() if e % 3 else
                 [0, 3, int(rng.integers(4, 8))]) for e in range(14)]
  sw_r = [sorted(rng.choice(8, 3, replace=False).tolist())
          for _ in range(14)]
  # Skip-heavy normal alphas so the restriction has work to do.
  a_n = rng.normal(size=(14, 3))
  for e, ops in enumerate(sw_n):
    if 3 in ops:
      a_n[e, ops.index(3)] += 2.0
  a_r = rng.normal(size=(14, 3))
  geno = pdarts.derive_genotype(a_n, a_r, sw_n, sw_r, max_skip=max_skip)
  normal, reduce = _official_derivation(a_n, a_r, sw_n, sw_r, max_skip)
  assert geno.normal == normal and geno.reduce == reduce
  assert sum(op == "skip_connect" for op, _ in geno.normal) <= max_skip
  for cell in (geno.normal, geno.reduce):
    assert len(cell) == 8 and all(op != "none" for op, _ in cell)
    # Node i's two inputs are < 2 + i; edges 0 and 1 always kept.
    for node in range(4):
      assert all(j < 2 + node for _, j in cell[2 * node:2 * node + 2])
    assert [j for _, j in cell[:2]] == [0, 1]
  assert geno.normal_concat == geno.reduce_concat == [2, 3, 4, 5]


@pytest.mark.slow
def test_reduced_search_returns_a_valid_genotype():
  # Spec §6, 46: the reduced CPU configuration runs all 3 stages. About
  # 2-3 minutes here, nearly all XLA compilation of the supernets: run with
  # `pytest --runslow`.
  from jaxdal import data
  ds = data.synthetic(num_train=200, num_test=50, shape=(16, 16, 1),
                      num_classes=4, seed=0)
  genotype, info = pdarts.search(
      ds.x_train[:100], ds.y_train[:100], ds.x_train[100:], ds.y_train[100:],
      jax.random.key(0), num_classes=4,
      config=pdarts.SearchConfig.reduced())
  for cell in (genotype.normal, genotype.reduce):
    assert len(cell) == 8 and all(op in pdarts.PRIMITIVES[1:]
                                  for op, _ in cell)
    for node in range(4):
      assert all(j < 2 + node for _, j in cell[2 * node:2 * node + 2])
  assert sum(op == "skip_connect" for op, _ in genotype.normal) <= 2
  assert all(len(ops) == 3 for ops in info["switches_normal"])
  net = pdarts.DerivedNetwork(4, genotype, channels=4, layers=3)
  x = jnp.asarray(ds.x_test[:2])
  variables = net.init({"params": jax.random.key(0)}, x)
  logits, features = net.apply(variables, x)
  assert logits.shape == (2, 4) and features.shape == (2, 4 * 4 * 4)


def _rename_ops(params_masked, switches_normal, switches_reduce, layers):
  """Masked-network parameters -> those of the network built with only the
  switched-on operations (its j-th op of an edge is the masked net's
  Operation_{ops[j]})."""
  out = dict(params_masked)
  plan = pdarts.cell_plan(C, layers)
  for i, (_, reduction, _) in enumerate(plan):
    switches = switches_reduce if reduction else switches_normal
    cell = dict(params_masked[f"Cell_{i}"])
    for e, ops in enumerate(switches):
      edge = params_masked[f"Cell_{i}"][f"MixedOp_{e}"]
      cell[f"MixedOp_{e}"] = {f"Operation_{j}": edge[f"Operation_{op}"]
                              for j, op in enumerate(ops)
                              if f"Operation_{op}" in edge}
    out[f"Cell_{i}"] = cell
  return out


@pytest.mark.slow  # Builds and compiles both forms: ~2 min here.
def test_masked_network_equals_the_network_without_the_masked_ops():
  # The static-shape search form: all 8 ops built, dropped ones masked to
  # weight 0, is the same function as the official per-stage network.
  rng = np.random.default_rng(0)
  sw_n = [sorted(rng.choice(8, 3, replace=False).tolist())
          for _ in range(pdarts.NUM_EDGES)]
  sw_r = [sorted(rng.choice(8, 3, replace=False).tolist())
          for _ in range(pdarts.NUM_EDGES)]
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 1))
  masked = pdarts.SearchNetwork(3, C, 3)
  masks = (jnp.asarray(pdarts.switch_mask(sw_n)),
           jnp.asarray(pdarts.switch_mask(sw_r)))
  v = masked.init({"params": jax.random.key(1)}, x, masks=masks)
  params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(
      jax.random.key(2), a.shape), v["params"])
  small = pdarts.SearchNetwork(3, C, 3, tuple(map(tuple, sw_n)),
                               tuple(map(tuple, sw_r)))
  small_params = _rename_ops(params, sw_n, sw_r, 3)
  small_params["alphas_normal"] = pdarts.alphas_on(params["alphas_normal"],
                                                   sw_n)
  small_params["alphas_reduce"] = pdarts.alphas_on(params["alphas_reduce"],
                                                   sw_r)
  small_stats = _rename_ops(v["batch_stats"], sw_n, sw_r, 3)
  for train in (False, True):
    a = masked.apply({"params": params, "batch_stats": v["batch_stats"]}, x,
                     train=train, masks=masks, mutable=["batch_stats"])[0]
    b = small.apply({"params": small_params, "batch_stats": small_stats}, x,
                    train=train, mutable=["batch_stats"])[0]
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
  # Masked alphas get no gradient.
  def loss(p):
    return masked.apply({"params": p, "batch_stats": v["batch_stats"]}, x,
                        train=True, masks=masks,
                        mutable=["batch_stats"])[0][0].sum()
  g = np.asarray(jax.grad(loss)(params)["alphas_normal"])
  assert not g[~pdarts.switch_mask(sw_n)].any()
  assert np.isfinite(g).all() and g[pdarts.switch_mask(sw_n)].any()


def test_genotype_dict_round_trip_and_errors():
  d = pdarts.genotype_to_dict(pdarts.PUBLISHED)
  assert pdarts.genotype_from_dict(d) == pdarts.PUBLISHED
  bad = {**d, "normal": [["conv_7x7", 0]] * 8}
  with pytest.raises(ValueError, match="conv_7x7.*sep_conv_3x3"):
    pdarts.genotype_from_dict(bad)
  with pytest.raises(ValueError, match="unknown search setting.*epoch"):
    pdarts.SearchConfig.from_dict({"epoch": 3})


def test_published_genotype_network_shapes():
  method = pdarts.make(4, channels=2, layers=3)
  assert isinstance(method, base.SearchMethod)
  default = method.default
  x = jnp.zeros((2, 12, 12, 1))
  v = default.model.init({"params": jax.random.key(0)}, x)
  logits, features = default.model.apply(v, x)
  assert logits.shape == (2, 4) and features.shape == (2, 4 * 2 * 4)
  arch = default.architecture(v)
  assert arch["source"] == "published"
  assert arch["genotype"] == pdarts.genotype_to_dict(pdarts.PUBLISHED)
  assert arch["cells"] == 3


def _found(genotype=pdarts.PUBLISHED, **accuracies):
  return {"genotype": pdarts.genotype_to_dict(genotype), **accuracies}


def test_adopt_identity_and_info_of_a_found_architecture():
  given = _found(pdarts.PUBLISHED._replace(
      normal=[("sep_conv_5x5", j) for _, j in pdarts.PUBLISHED.normal]))
  method = pdarts.make(4, channels=2, layers=3,
                       genotype=given["genotype"])
  assert isinstance(method.default, base.Method)
  assert method.default.architecture(None)["source"] == "given"
  found = _found(stage0_val_accuracy=0.5, stage2_val_accuracy=0.75)
  adopted = method.adopt(found)
  assert isinstance(adopted, base.Method)
  assert adopted.model.genotype == pdarts.PUBLISHED
  assert adopted.architecture(None) == {
      "genotype": found["genotype"], "cells": 3, "source": "search"}
  assert method.info(found) == {"stage0_val_accuracy": 0.5,
                                "stage2_val_accuracy": 0.75}
  assert method.identity(found) == method.identity(_found())
  assert method.identity(found) != method.identity(given)
  assert isinstance(method.identity(found), str)


def test_describe_is_one_line_of_short_operation_names():
  arch = {"genotype": pdarts.genotype_to_dict(pdarts.PUBLISHED),
          "cells": 8, "source": "published"}
  assert pdarts.describe(arch) == (
      "normal skip(0) dil3(1) skip(0) sep3(1) sep3(1) sep3(3) sep3(0) "
      "dil5(4); reduce avg(0) sep5(1) sep3(0) dil5(2) max(0) dil3(1) "
      "dil3(1) dil5(3)")
  assert pdarts.describe(None) == pdarts.describe({}) == ""
  assert pdarts.SPEC.make is pdarts.make
  assert pdarts.SPEC.describe is pdarts.describe
  assert pdarts.SPEC.draw is pdarts.draw


def test_draw_writes_the_genotype_figure(tmp_path):
  config = {"method": "pdarts", "mode": "joint", "dataset": "mnist",
            "acquisition": "random"}
  other = pdarts.PUBLISHED._replace(reduce=pdarts.PUBLISHED.normal)
  archs = [{**_found(), "source": "published"}, None,
           {**_found(other), "source": "search"}]
  records = [{"round": r, "labeled": 20 * (r + 1), "architecture": arch}
             for r, arch in enumerate(archs)]
  out = str(tmp_path / "figures" / "architecture.png")
  assert pdarts.draw(config, records, out) == out
  with open(out, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  nothing = str(tmp_path / "none.png")
  assert pdarts.draw(config, records[1:2], nothing) is None
  assert pdarts.draw(config, [{"round": 0, "labeled": 1,
                               "architecture": {"depth": 2.0}}],
                     nothing) is None
  assert not os.path.exists(nothing)
