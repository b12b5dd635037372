"""Depth-Dropout (KC, Li & Gilany, NeurIPS 2021): a beta process over the
depth of a residual CNN and Bernoulli masks over its channels.

`nu_l ~ q = Beta(a_l, b_l)`, `pi_l = prod_{j<=l} nu_j` (stick-breaking, so
pi is non-increasing), channel m of layer l is kept with probability
`pi_l`: a relaxed Bernoulli mask (temperature 0.5) in training, a hard
Bernoulli draw at inference. One mask matrix `Z [M, K]` per structure
sample, shared by the whole batch. The network runs the first `threshold`
layers, where `threshold` is the largest (over S samples) number of layers
with any active unit; in static-shape form layer l adds
`1[l < threshold] * block_l(h) * z_l` to the residual stream. The loss is
`mean_{S,B} CE + sum_l KL(q(nu_l) || Beta(alpha, beta)) / N`. Spec: §3.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdal import losses
from jaxdal.archopt.base import Method, two_group_optimizer
from jaxdal.lazy import lazy_module
from jaxdal.models.cnn import ResidualBody

# distrax (and TensorFlow Probability under it) loads on first use.
dists = lazy_module("jaxdal.archopt.distributions")

__all__ = ["DepthDropoutCNN", "STRUCTURE_PARAMS", "active_depth", "beta_params",
           "make", "stick_breaking", "structure_params"]

STRUCTURE_PARAMS = ("a_uc", "b_uc")


def beta_params(a_uc, b_uc):
  """`softplus(.) + 0.01`: both stay >= 0.01."""
  return jax.nn.softplus(a_uc) + 0.01, jax.nn.softplus(b_uc) + 0.01


def stick_breaking(nu):
  """`pi_l = prod_{j<=l} nu_j` via `exp(cumsum(log nu))`, `[..., K]`."""
  tiny = jnp.finfo(nu.dtype).tiny
  return jnp.exp(jnp.cumsum(jnp.log(jnp.clip(nu, tiny, 1.0)), axis=-1))


def active_depth(z, eps: float = 0.01):
  """Layers with any unit above `eps`, max over samples, at least 1.

  `z` `[S, M, K]` -> int32 `[]`. A count, not the index of the last
  active layer.
  """
  per_sample = jnp.sum(jnp.any(z > eps, axis=1), axis=-1)
  return jnp.maximum(jnp.max(per_sample), 1).astype(jnp.int32)


class DepthDropoutCNN(nn.Module):
  """Residual CNN with a sampled depth and channel masks.

  `__call__` returns `(mean over S of the logits, mean features)`;
  `sample_logits` returns the per-sample logits `[S, B, C]` for the loss.
  """
  num_classes: int
  truncation: int = 20
  width: int = 64
  samples: int = 2
  eval_samples: int = 0
  example_masks: bool = False
  a_init: float = 1.1
  b_init: float = 1.0
  temperature: float = 0.5
  eps: float = 0.01
  norm: str = "batch"

  def setup(self):
    k = self.truncation
    self.a_uc = self.param("a_uc", nn.initializers.constant(
        dists.softplus_inverse(self.a_init)), (k,))
    self.b_uc = self.param("b_uc", nn.initializers.constant(
        dists.softplus_inverse(self.b_init)), (k,))
    self.body = ResidualBody(self.width, self.truncation, self.norm)
    self.classifier = nn.Dense(self.num_classes)

  def structure(self, *, train: bool, batch: int = 1):
    """Samples `(Z, threshold)` from q: `Z [S, M, K]`, one structure per
    sample for the whole batch, or `[S, B, M, K]` at inference with
    `example_masks` (each of the `batch` examples draws its own). S =
    `samples` in training, `eval_samples` (0: `samples`) at inference."""
    a, b = beta_params(self.a_uc, self.b_uc)
    k_nu, k_z = jax.random.split(self.make_rng("arch"))
    samples = self.samples if train or not self.eval_samples \
        else self.eval_samples
    lead = (samples,) if train or not self.example_masks \
        else (samples, batch)
    nu = jax.random.beta(k_nu, a, b, (*lead, self.truncation))
    pi = jnp.broadcast_to(stick_breaking(nu)[..., None, :],
                          (*lead, self.width, self.truncation))
    if train:
      z = dists.RelaxedBernoulli(pi, self.temperature).sample(seed=k_z)
    else:
      z = jax.random.bernoulli(k_z, pi).astype(jnp.float32)
    flat = z.reshape(-1, self.width, self.truncation)
    return z, active_depth(flat, self.eps)

  def sample_logits(self, x, *, train: bool = False, mc: bool = False):
    """Per-sample `(logits [S, B, C], features [S, B, M], threshold)`.

    Inference is sampled too (hard Bernoulli masks), so `mc` changes
    nothing: every call draws its structure from the `arch` rng.
    """
    del mc
    z, threshold = self.structure(train=train, batch=x.shape[0])
    feats = [self.body(x, train=train, masks=z[s], threshold=threshold)
             for s in range(z.shape[0])]
    features = jnp.stack(feats)
    return self.classifier(features), features, threshold

  def __call__(self, x, *, train: bool = False, mc: bool = False):
    logits, features, _ = self.sample_logits(x, train=train, mc=mc)
    return logits.mean(0), features.mean(0)


def structure_params(params):
  return params["a_uc"], params["b_uc"]


def make(num_classes: int, *, truncation: int = 20, width: int = 64,
         samples: int = 2, eval_samples: int = 0,
         example_masks: bool = False, a_init: float = 1.1,
         b_init: float = 1.0,
         prior_alpha: float = 1.0, prior_beta: float = 10.0,
         temperature: float = 0.5, eps: float = 0.01, norm: str = "batch",
         kl_n: float = 0.0, kl_weight: float = 1.0,
         weight_decay: float = 1e-6) -> Method:
  """Depth-Dropout for `num_classes` classes.

  Defaults follow ArchDAL (K = 20, M = 64, prior Beta(1, 10), q starting
  at Beta(1.11, 1.01), S = 2, temperature 0.5, KL divided by the current
  labeled-set size: `kl_n = 0`); `kl_n > 0` fixes N (the official code
  uses the training-set size). `eval_samples > 0` averages that many
  structure samples at inference (0: `samples`); one batch shares each
  sample, so with few of them an evaluation hinges on a few subnetworks;
  `example_masks` lets each example draw its own at inference (the same
  expected accuracy, without the lottery; training keeps one per batch).
  `norm` is "batch" (official) or "group"
  (ArchDAL's GroupNorm(1, M)).
  """
  if eval_samples < 0:
    raise ValueError(f"eval_samples must be >= 0 (0: samples), got "
                     f"{eval_samples}")
  model = DepthDropoutCNN(num_classes=num_classes, truncation=truncation,
                          width=width, samples=samples,
                          eval_samples=eval_samples,
                          example_masks=example_masks, a_init=a_init,
                          b_init=b_init, temperature=temperature, eps=eps,
                          norm=norm)

  def kl_sum(params):
    a, b = beta_params(*structure_params(params))
    return dists.kl_beta_beta(a, b, prior_alpha, prior_beta).sum()

  def loss(params, model_state, x, y, weights, key, n_train):
    (logits, _, _), new_state = model.apply(
        {"params": params, **model_state}, x, train=True,
        rngs={"arch": key, "dropout": key}, mutable=list(model_state),
        method=DepthDropoutCNN.sample_logits)
    kl = kl_sum(params)
    n = n_train if kl_n == 0 else kl_n
    value = losses.weighted_ce(logits, y, weights) + kl_weight * kl / n
    return value, {"logits": logits.mean(0), "model_state": dict(new_state),
                   "kl": kl}

  def optimizer(learning_rate, train_arch=True):
    def base(lr):
      return optax.chain(optax.add_decayed_weights(weight_decay),
                         optax.adam(lr))

    return two_group_optimizer(arch_names=STRUCTURE_PARAMS,
                               train_arch=train_arch,
                               learning_rate=learning_rate, base=base,
                               arch=base)

  def architecture(variables, *, draws: int = 2000) -> dict:
    """Expected depth, per-layer keep probabilities and a mean mask.

    Reads q only (no forward pass): `E[pi_l] = prod a_j / (a_j + b_j)`;
    P(layer l has an active unit) = `E[1 - (1 - pi_l)^M]`, estimated with
    `draws` samples of nu from a fixed key, so the summary of the same
    parameters is always the same.
    """
    a, b = beta_params(*structure_params(variables["params"]))
    keep = jnp.cumprod(a / (a + b))
    nu = jax.random.beta(jax.random.key(0), a, b, (draws, truncation))
    pi = stick_breaking(nu)
    layer_on = 1.0 - (1.0 - pi) ** width  # [draws, K]
    # Expected threshold under one structure sample: layers with any unit.
    depth = float(jnp.mean(jnp.maximum(jnp.sum(layer_on, axis=1), 1.0)))
    z = jax.random.bernoulli(jax.random.key(1),
                             jnp.broadcast_to(pi[:15, None, :],
                                              (15, width, truncation)))
    return {
        "depth": round(depth, 3),
        "layer_activation": [round(float(v), 4) for v in keep],
        "active_filters": [round(float(v) * width, 2) for v in keep],
        "filters": width,
        # filters x layers, mean of 15 hard samples (the paper's Figure 9).
        "mask": jnp.round(z.mean(0), 2).tolist(),
    }

  return Method(model=model, loss=loss, optimizer=optimizer,
                architecture=architecture, optimises_architecture=True)
