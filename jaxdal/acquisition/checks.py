"""Checks at the edge of the acquisition layer, before `jit`.

Every failure is a one-line ValueError that names the function and the
argument, the expected form and what came instead. Shapes, dtypes and `k`
are static, so they are checked even while tracing; values (probabilities
summing to 1, the number of available rows) are looked at only when the
array is concrete, never for a `jax.core.Tracer`, so every selector still
runs under `jit` and `vmap` (where its caller checks, as the loop does).
A probability check costs one pass over the array and five scalars back.

  >>> probs("entropy", "probs", jnp.array([[2.0, -1.0]]))
  Traceback (most recent call last):
  ...
  ValueError: entropy: probs must be probabilities [N, C] or [T, N, C] \
(non-negative, summing to 1 over the last axis); got float32 array of \
shape (1, 2) with negative values (min -1), which look like logits: apply \
jax.nn.softmax(x, axis=-1) first
"""

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "PROBS_ATOL",
    "budget",
    "concrete",
    "describe",
    "features",
    "key",
    "mask",
    "probs",
    "probs_with_features",
    "scores",
    "selectable",
    "selector_inputs",
    "size",
]

# Rows of probabilities sum to 1 within this (or a few ulps of a coarser
# dtype): a softmax in float32 is off by ~1e-7, logits by O(1).
PROBS_ATOL = 1e-3


def concrete(*xs) -> bool:
  """False when one of `xs` is a tracer (inside `jit`, `vmap`, `grad`) or
  an array this process cannot read whole (spread over several hosts)."""
  return not any(isinstance(x, jax.core.Tracer)
                 or not getattr(x, "is_fully_addressable", True) for x in xs)


def _under_trace() -> bool:
  """True while a function is traced (`jit`, `vmap`, `grad`): then even a
  jnp operation on a concrete constant gives a tracer, so a check of a
  constant's values runs in NumPy on the host."""
  return isinstance(jnp.zeros((), bool), jax.core.Tracer)


def describe(x) -> str:
  """What came, in a few words: dtype and shape for an array."""
  if hasattr(x, "shape") and hasattr(x, "dtype"):
    return f"{x.dtype} array of shape {tuple(x.shape)}"
  text = repr(x)
  return text if len(text) <= 60 and "\n" not in text else type(x).__name__


def _error(fn: str | None, name: str, expected: str, got: str) -> ValueError:
  prefix = f"{fn}: " if fn else ""
  return ValueError(f"{prefix}{name} must be {expected}; got {got}")


def size(fn: str | None, k, *, name: str = "k",
         what: str = "the acquisition size") -> int:
  """`k` as an int; a one-line error unless it is a positive int.

  `k` fixes the output shape `[k]`, so it is static even under `jit`.
  """
  if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
    raise _error(fn, name, f"a positive int ({what})", describe(k))
  return int(k)


def key(fn: str, k) -> None:
  """A PRNG key: a typed key (`jax.random.key`) or a raw uint32 `[2]`."""
  dtype = getattr(k, "dtype", None)
  if dtype is not None and (
      jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
      or (dtype == jnp.uint32 and tuple(k.shape) == (2,))):
    return
  raise _error(fn, "key", "a PRNG key (jax.random.key(seed))", describe(k))


def mask(fn: str, name: str, m, n: int | None = None, *,
         rows_of: str = "the inputs"):
  """`m` as an array if it is a bool mask `[N]` (`n` rows when given).

  Integer arrays are refused: indices and masks look alike as numbers, and
  an index array read as a mask selects the wrong rows without a word.
  """
  if not hasattr(m, "dtype"):
    m = np.asarray(m)
  n_text = "N" if n is None else f"N={n}, as {rows_of}"
  expected = f"a bool mask [N] ({n_text})"
  if m.dtype != bool:
    got = describe(m)
    if jnp.issubdtype(m.dtype, jnp.integer):
      rows = "N" if n is None else n
      got += (f"; from indices idx make one with "
              f"jnp.zeros({rows}, bool).at[idx].set(True)")
      if m.ndim == 1 and (n is None or m.shape[0] == n):
        got += f", from 0/1 values with {name}.astype(bool)"
    raise _error(fn, name, expected, got)
  if m.ndim != 1 or (n is not None and m.shape[0] != n):
    raise _error(fn, name, expected, f"shape {tuple(m.shape)}")
  return m


def selectable(fn: str, k, available, n: int | None = None, *,
               rows_of: str = "the inputs"):
  """`(k, available)` checked: k a positive int, `available` a bool mask
  `[N]` and, when concrete, at least k of its rows True."""
  k = size(fn, k)
  available = mask(fn, "available", available, n, rows_of=rows_of)
  if k > available.shape[0]:
    raise ValueError(f"{fn}: acquisition size k={k} exceeds the "
                     f"{available.shape[0]} rows of available")
  if concrete(available):
    budget(fn, k, available)
  return k, available


def budget(fn: str | None, k: int, available) -> None:
  """One line unless `k <= available.sum()` (`available` concrete)."""
  # On the host: under an outer jit a jnp sum of even a concrete array is
  # traced, and a traced count cannot be compared.
  n_available = int(np.count_nonzero(np.asarray(available)))
  if k > n_available:
    prefix = f"{fn}: " if fn else ""
    raise ValueError(f"{prefix}acquisition size k={k} exceeds the "
                     f"{n_available} available examples (available.sum())")


def features(fn: str, name: str, x, n: int | None = None, *,
             rows_of: str = "the inputs") -> None:
  """`x` is `[N, D]` (`n` rows when given)."""
  shape = tuple(getattr(x, "shape", ()))
  if len(shape) != 2 or (n is not None and shape[0] != n):
    n_text = "" if n is None else f" with N={n} rows, as {rows_of}"
    raise _error(fn, name, f"[N, D]{n_text}", describe(x))


def scores(fn: str, name: str, x) -> None:
  """`x` is one score per example, `[N]`."""
  shape = tuple(getattr(x, "shape", ()))
  if len(shape) != 1:
    got = describe(x)
    if len(shape) >= 2:
      got += (": reduce probabilities to one score per row first, e.g. "
              "jaxdal.acquisition.entropy(probs)")
    raise _error(fn, name, "one score per example [N]", got)


def _prob_stats(xp, p):
  """`(all finite, min, min and max row sum over the last axis, largest
  |sum - 1| over axis 1 of [T, N, C] (axis 0 of [N, C]))`."""
  p = p.astype(xp.float32)
  rows = p.sum(-1)
  other = p.sum(1 if p.ndim == 3 else 0)
  return (xp.isfinite(p).all(), p.min(), rows.min(), rows.max(),
          xp.abs(other - 1.0).max())


_prob_stats_jit = jax.jit(functools.partial(_prob_stats, jnp))


def probs(fn: str, name: str, p, *,
          layouts: tuple[str, ...] = ("[N, C]", "[T, N, C]"),
          shape: tuple[int, ...] | None = None, values: bool = True) -> None:
  """`p` holds probabilities: non-negative, summing to 1 over the last axis.

  Args:
    fn: the function checked, first word of the message.
    name: the argument checked.
    p: the array (a block of it for a streamed pool, see `shape`).
    layouts: the accepted layouts, one per number of axes.
    shape: the whole array's shape for the message when `p` is one block.
    values: False checks the number of axes only (a pool read later, block
      by block).

  Raises:
    ValueError: one line; logits (negative values, rows not summing to 1)
      are told to take a softmax, a sample-last `[N, C, T]` array to move
      its sample axis first.
  """
  shape = tuple(p.shape) if shape is None else tuple(shape)
  kind = f"{p.dtype} array of shape {shape}"
  expected = (f"probabilities {' or '.join(layouts)} (non-negative, summing "
              f"to 1 over the last axis)")
  if p.ndim not in [layout.count(",") + 1 for layout in layouts]:
    raise _error(fn, name, expected, kind)
  if not values or not concrete(p) or p.size == 0:
    return
  dtype = p.dtype
  atol = PROBS_ATOL
  if jnp.issubdtype(dtype, jnp.floating):
    atol = max(atol, 4 * float(jnp.finfo(dtype).eps))
  if isinstance(p, jax.Array) and not _under_trace():
    stats = _prob_stats_jit(p)
  else:
    stats = _prob_stats(np, np.asarray(p))
  finite, low, row_lo, row_hi, other_dev = (float(v) for v in
                                            jax.device_get(stats))
  softmax = "apply jax.nn.softmax(x, axis=-1) first"
  if not finite:
    raise _error(fn, name, expected, f"{kind} with NaN or inf values")
  if low < -atol:
    raise _error(fn, name, expected,
                 f"{kind} with negative values (min {low:.3g}), which look "
                 f"like logits: {softmax}")
  if row_lo >= 1 - atol and row_hi <= 1 + atol:
    return
  sums = f"rows summing to {row_lo:.3g}..{row_hi:.3g} over the last axis"
  if p.ndim == 3 and other_dev <= atol:
    raise _error(fn, name, expected,
                 f"{kind} with {sums} but to 1 over axis 1: the sample "
                 f"axis is last, [N, C, T]; put it first, [T, N, C], with "
                 f"jnp.moveaxis(p, -1, 0)")
  if p.ndim == 2 and other_dev <= atol:
    raise _error(fn, name, expected,
                 f"{kind} with {sums} but columns summing to 1: this is "
                 f"[C, N]; transpose it, p.T")
  raise _error(fn, name, expected,
               f"{kind} with {sums}, which look like logits or unnormalised "
               f"scores: {softmax}")


def selector_inputs(fn: str, k, available, x, labeled):
  """`(k, available, labeled)` of a feature selector called `fn` on
  features `x` `[N, D]`, checked, as jnp arrays (`available` defaults to
  the unlabeled rows)."""
  features(fn, "features", x)
  n = x.shape[0]
  labeled = jnp.asarray(mask(fn, "labeled", labeled, n, rows_of="features"))
  available = ~labeled if available is None else available
  k, available = selectable(fn, k, available, n, rows_of="features")
  return k, jnp.asarray(available), labeled


def probs_with_features(fn: str, p, x) -> tuple[jnp.ndarray, int]:
  """`(probs, N)`: `[N, C]` or `[T, N, C]` probabilities `p` with at least
  2 classes and features `x` `[N, D]` of the same rows, checked (a margin
  or a classifier head needs two classes)."""
  p = jnp.asarray(p)
  probs(fn, "probs", p)
  n = p.shape[-2]
  features(fn, "features", x, n, rows_of="probs")
  if p.shape[-1] < 2:
    raise ValueError(f"{fn}: probs must have at least 2 classes; got "
                     f"{describe(p)}")
  return p, n
