"""Any Flax module as a jaxdal backbone: `(logits, features)` from
`apply(variables, x, *, train, mc)`.

jaxdal's own backbones already follow that contract. A module written the
usual way takes one mode flag (`deterministic`, `train`, `training` or
`is_training`) and returns logits; `as_backbone` calls it with the flag set
from `train` / `mc` and takes the features (what BADGE, coreset and the
complexity measures read) from the input of the last `nn.Dense` it calls
(the classifier's input), or from the output of a named layer.

  >>> import flax.linen as nn, jax, jax.numpy as jnp
  >>> class MLP(nn.Module):
  ...   @nn.compact
  ...   def __call__(self, x, deterministic=True):
  ...     h = nn.relu(nn.Dense(8)(x))
  ...     h = nn.Dropout(0.5, deterministic=deterministic)(h)
  ...     return nn.Dense(3)(h)
  >>> net = as_backbone(MLP())
  >>> v = net.init({"params": jax.random.key(0)}, jnp.ones((2, 4)))
  >>> logits, features = net.apply(v, jnp.ones((2, 4)))
  >>> logits.shape, features.shape
  ((2, 3), (2, 8))

With a single flag MC dropout (`mc=True`) is the training-mode call, so a
module that has BatchNorm under the same flag would normalise with batch
statistics there; give such a module jaxdal's `train`/`mc` pair instead.
"""

import dataclasses
import inspect
from typing import Any

import flax.linen as nn

__all__ = ["Backbone", "as_backbone", "mode_flag"]

# Flag name -> True when the flag means "training mode".
_FLAGS = {"train": True, "training": True, "is_training": True,
          "deterministic": False}


def mode_flag(module: nn.Module) -> str | None:
  """The keyword of `module.__call__` that switches training mode
  (`train`, `training`, `is_training`, `deterministic`), or None."""
  params = inspect.signature(type(module).__call__).parameters
  for name in _FLAGS:
    if name in params:
      return name
  return None


def _is_native(module: nn.Module) -> bool:
  """True for modules that follow jaxdal's contract themselves."""
  params = inspect.signature(type(module).__call__).parameters
  return "train" in params and "mc" in params


@dataclasses.dataclass(frozen=True)
class Backbone:
  """A module seen through jaxdal's contract (`as_backbone` builds it).

  Attributes:
    module: the user's Linen module; its variables are its own.
    flag: the mode keyword of `module.__call__`, or None.
    features: None for the classifier's input, or the name of the layer
      whose output is the feature vector.
  """
  module: nn.Module
  flag: str | None = None
  features: str | None = None
  native: bool = False  # takes jaxdal's own `train` and `mc`

  def _call(self, x, train: bool, mc: bool):
    kwargs = {}
    if self.native:
      kwargs = {"train": train, "mc": mc}
    elif self.flag is not None:
      on = train or mc  # one flag: MC dropout is the training-mode call
      kwargs[self.flag] = on if _FLAGS[self.flag] else not on
    found: dict[str, Any] = {}
    named: list = []

    def interceptor(next_fun, args, kw, context):
      out = next_fun(*args, **kw)
      if context.method_name != "__call__":
        return out
      if self.features is None and isinstance(context.module, nn.Dense):
        found["features"] = args[0]  # the last Dense called wins
      elif self.features is not None and self.features in (
          context.module.name, "/".join(context.module.path)):
        named.append("/".join(context.module.path))
        found["features"] = out
      return out

    with nn.intercept_methods(interceptor):
      out = self.module(x, **kwargs)
    if len(set(named)) > 1:
      raise ValueError(f"features={self.features!r} names {len(set(named))} "
                       f"layers ({', '.join(sorted(set(named)))}); give one "
                       f"path")
    if isinstance(out, tuple):
      if len(out) != 2:
        raise ValueError(f"{type(self.module).__name__} returns a tuple of "
                         f"{len(out)}; expected logits [B, C] or (logits "
                         f"[B, C], features [B, D])")
      out, own = out  # the module's own features, unless a layer is named
      if self.features is None:
        found["features"] = own
    feats = found.get("features")
    if feats is not None and (feats.ndim != 2 or feats.shape[0] != len(x)):
      raise ValueError(f"features of {type(self.module).__name__} must be "
                       f"[B, D] with B = {len(x)}, got shape "
                       f"{tuple(feats.shape)}; name the layer whose output "
                       f"is the feature vector: as_backbone(model, "
                       f"features='layer_name')")
    return out, feats

  def init(self, rngs, x, **kwargs):
    """`module.init` with the mode flag in inference mode."""
    del kwargs
    if self.native:
      return self.module.init(rngs, x)
    flag = ({} if self.flag is None
            else {self.flag: not _FLAGS[self.flag]})
    return self.module.init(rngs, x, **flag)

  def apply(self, variables, x, *, train: bool = False, mc: bool = False,
            rngs=None, mutable=False):
    """`(logits [B, C], features [B, D] or None)`, as jaxdal's backbones
    return them (with the updated collections when `mutable`)."""
    return self.module.apply(
        variables, x, train, mc, rngs=rngs, mutable=mutable,
        method=lambda m, x, train, mc: Backbone._call(
            dataclasses.replace(self, module=m), x, train, mc))

  def __hash__(self):
    return hash((id(self.module), self.flag, self.features, self.native))


def as_backbone(module: nn.Module, *, features: str | None = None):
  """`module` as a backbone `apply(v, x, *, train, mc) -> (logits,
  features)`; a jaxdal backbone is returned as it is (unless `features`
  names another layer).

  Args:
    module: a Linen module returning logits `[B, C]` (or `(logits,
      features)`), with at most one mode flag.
    features: the name (or `/`-joined path) of the layer whose output is
      the feature vector `[B, D]`; default: the module's own features, or
      the input of the last `nn.Dense` called.

  Raises:
    ValueError: a module whose `__call__` takes a `mc` flag but no
      `train` (half of jaxdal's contract).
  """
  if not isinstance(module, nn.Module) and hasattr(module, "apply"):
    return module  # already adapted
  if _is_native(module) and features is None:
    return module
  params = inspect.signature(type(module).__call__).parameters
  if "mc" in params and "train" not in params:
    raise ValueError(f"{type(module).__name__}.__call__ takes 'mc' but not "
                     f"'train'; take both (jaxdal's contract) or neither")
  return Backbone(module, mode_flag(module), features, _is_native(module))


def features_missing(backbone, x) -> str | None:
  """Why `backbone` gives no features for inputs like `x`, or None."""
  import jax
  import jax.numpy as jnp
  key = jax.random.key(0)
  rngs = {"params": key, "dropout": key}

  def run():
    v = backbone.init(rngs, jnp.zeros((1, *x.shape[1:]), x.dtype))
    return backbone.apply(v, jnp.zeros((1, *x.shape[1:]), x.dtype),
                          rngs={"dropout": key})[1]

  if jax.eval_shape(run) is not None:
    return None
  name = type(getattr(backbone, "module", backbone)).__name__
  named = getattr(backbone, "features", None)
  if named is not None:
    return (f"{name} calls no layer named {named!r}; give the name or "
            f"'/'-joined path of a layer it calls")
  return (f"{name} exposes no features (it calls no nn.Dense): return "
          f"(logits, features) from __call__, or name the layer whose "
          f"output is the feature vector: "
          f"jaxdal.adapters.as_backbone(model, features='layer_name')")
