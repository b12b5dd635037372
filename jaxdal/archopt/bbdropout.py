"""BBDropout (Lee et al., beta-Bernoulli dropout) on the project's gated CNN.

Each convolution's output channels are multiplied by a gate
`z ~ RelaxedBernoulli(pi, tau = 0.1)` with `pi ~ q = Kumaraswamy(a, b)`
(one pi per gate per step, one z per example); the prior is Beta(alpha, 1)
and the loss adds `sum KL(q || prior) / N`. At inference the gate is the
deterministic `E[pi] * 1[E[pi] >= threshold]`, and the filters with
`E[pi] >= threshold` are the inferred architecture. Spec: §2.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdal import losses
from jaxdal.archopt.base import Method, two_group_optimizer
from jaxdal.lazy import lazy_module
from jaxdal.models import torch_init
from jaxdal.models.cnn import apply_norm, classifier_dropout, make_norm
from jaxdal.models.conv import matmul_conv

# distrax (and TensorFlow Probability under it) loads on first use.
dists = lazy_module("jaxdal.archopt.distributions")

__all__ = ["BBDropoutCNN", "BBGate", "GATE_PARAMS", "gate_ab", "gate_params",
           "make", "total_kl"]

GATE_PARAMS = ("a_uc", "b_uc")


def gate_ab(a_uc, b_uc):
  """Kumaraswamy parameters with the official clamps."""
  a = jax.nn.softplus(jnp.maximum(a_uc, -10.0))
  b = jax.nn.softplus(jnp.clip(b_uc, -10.0, 50.0))
  return a, b


class BBGate(nn.Module):
  """Beta-Bernoulli gate over the last axis (channels) of its input."""
  a_uc_init: float = -1.0
  b_uc_init: float = 0.5413
  temperature: float = 0.1
  threshold: float = 1e-3

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    units = x.shape[-1]
    a_uc = self.param("a_uc", nn.initializers.constant(self.a_uc_init),
                      (units,))
    b_uc = self.param("b_uc", nn.initializers.constant(self.b_uc_init),
                      (units,))
    q = dists.Kumaraswamy(*gate_ab(a_uc, b_uc))
    if not (train or mc):
      e_pi = q.mean()
      return x * (e_pi * (e_pi >= self.threshold))
    k_pi, k_z = jax.random.split(self.make_rng("arch"))
    pi = q.sample(seed=k_pi)  # [K]: one draw per gate per call
    relaxed = dists.RelaxedBernoulli(pi, self.temperature)
    if train:  # one mask per example
      z = relaxed.sample(seed=k_z, sample_shape=x.shape[0])
      return x * z.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (units,))
    return x * relaxed.sample(seed=k_z)  # MC: one mask for the batch


class BBDropoutCNN(nn.Module):
  """The gated CNN of ArchDAL (`BBDROPCNN`): 5x5 gated conv + max-pool,
  `layers - 1` residual gated 3x3 convs with LeakyReLU, a residual dense
  block (its output is the feature vector), the classifier.

  Weights start as PyTorch's defaults (`models.torch_init`), as in the
  official code. `norm` "none" is the official network; "batch" or
  "group" normalise each convolution's output before its gate (a
  departure that lets it train in a few hundred steps).
  """
  num_classes: int
  layers: int = 20
  filters: int = 64
  a_uc_init: float = -1.0
  threshold: float = 1e-3
  temperature: float = 0.1
  dropout_rate: float = 0.0
  norm: str = "none"

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    def normed(h, layer):
      if self.norm == "none":
        return h
      return apply_norm(make_norm(self.norm, name=f"norm_{layer}"), h,
                        train=train)

    def gate(name):
      return BBGate(a_uc_init=self.a_uc_init, threshold=self.threshold,
                    temperature=self.temperature, name=name)

    h = nn.Conv(self.filters, (5, 5), padding="VALID", name="conv_0",
                conv_general_dilated=matmul_conv, kernel_init=torch_init.kernel,
                bias_init=torch_init.bias(25 * x.shape[-1]))(x)
    h = nn.relu(gate("gate_0")(normed(h, 0), train=train, mc=mc))
    h = nn.max_pool(h, (2, 2), strides=(2, 2))
    for layer in range(1, self.layers):
      out = nn.Conv(self.filters, (3, 3), padding=((1, 1), (1, 1)),
                    name=f"conv_{layer}", conv_general_dilated=matmul_conv,
                    kernel_init=torch_init.kernel,
                    bias_init=torch_init.bias(9 * self.filters))(h)
      out = normed(out, layer)
      h = nn.leaky_relu(gate(f"gate_{layer}")(out, train=train, mc=mc),
                        0.01) + h
    g = jnp.mean(h, axis=(1, 2))
    features = nn.relu(nn.Dense(
        self.filters, name="dense_0", kernel_init=torch_init.kernel,
        bias_init=torch_init.bias(self.filters))(g)) + g
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    logits = nn.Dense(self.num_classes, name="classifier",
                      kernel_init=torch_init.kernel,
                      bias_init=torch_init.bias(self.filters))(h)
    return logits, features


def gate_params(params) -> list[tuple[jax.Array, jax.Array]]:
  """`(a_uc, b_uc)` of every gate, in layer order."""
  gates = sorted((k for k in params if k.startswith("gate_")),
                 key=lambda k: int(k.split("_")[1]))
  return [(params[g]["a_uc"], params[g]["b_uc"]) for g in gates]


def total_kl(params, alpha: float) -> jax.Array:
  """Sum over gates and units of KL(Kumaraswamy(a, b) || Beta(alpha, 1))."""
  return sum(dists.kl_bbdropout(*gate_ab(a, b), alpha).sum()
             for a, b in gate_params(params))


def make(num_classes: int, *, layers: int = 20, filters: int = 64,
         a_init: float = 0.3133, threshold: float = 1e-3,
         temperature: float = 0.1, alpha: float = 1e-4,
         kl_n: float = 60_000.0, kl_weight: float = 1.0,
         gate_lr_ratio: float = 10.0, weight_decay: float = 1e-4,
         norm: str = "none") -> Method:
  """BBDropout for `num_classes` classes.

  Args:
    num_classes: C.
    layers: gated convolutional layers (K; ArchDAL 20).
    filters: filters per layer (ArchDAL 64).
    a_init: initial Kumaraswamy a (0.3133 in the official code, 1.3133 in
      the paper's text); b starts at 1.
    threshold: a filter is active when E[pi] >= threshold (1e-3 official,
      0.1 in ArchDAL).
    temperature: relaxed-Bernoulli temperature.
    alpha: prior Beta(alpha, 1).
    kl_n: N of KL / N (official 60,000); 0 means the labeled-set size.
    kl_weight: multiplier of the KL term.
    gate_lr_ratio: gate learning rate / base learning rate (1e-2 / 1e-3).
    weight_decay: coupled L2 on the base parameters (official 1e-4).
    norm: "none" (official), "batch" or "group": a normalisation after
      each convolution, before its gate.
  """
  if norm not in ("none", "batch", "group"):
    raise ValueError(f"unknown norm {norm!r}; valid: none, batch, group")
  model = BBDropoutCNN(num_classes=num_classes, layers=layers,
                       filters=filters,
                       a_uc_init=dists.softplus_inverse(a_init),
                       threshold=threshold, temperature=temperature,
                       norm=norm)

  def loss(params, model_state, x, y, weights, key, n_train):
    (logits, _), new_state = model.apply(
        {"params": params, **model_state}, x, train=True,
        rngs={"arch": key, "dropout": key}, mutable=list(model_state))
    kl = total_kl(params, alpha)
    n = n_train if kl_n == 0 else kl_n
    value = losses.weighted_ce(logits, y, weights) + kl_weight * kl / n
    return value, {"logits": logits, "model_state": dict(new_state),
                   "kl": kl}

  def optimizer(learning_rate, train_arch=True):
    return two_group_optimizer(
        arch_names=GATE_PARAMS, train_arch=train_arch,
        learning_rate=learning_rate,
        base=lambda lr: optax.chain(optax.add_decayed_weights(weight_decay),
                                    optax.adam(lr)),
        arch=lambda lr: optax.adam(lr * gate_lr_ratio))

  def architecture(variables) -> dict:
    e_pi = jnp.stack([dists.Kumaraswamy(*gate_ab(a, b)).mean()
                      for a, b in gate_params(variables["params"])])  # [L, F]
    active = e_pi >= threshold
    counts = active.sum(axis=1)
    return {
        "active_filters": [int(c) for c in counts],
        "filters": filters,
        "layer_activation": [round(float(c) / filters, 4) for c in counts],
        "expected_pi": [round(float(v), 4) for v in e_pi.mean(axis=1)],
        # filters x layers 0/1 image (the paper's Figure 9).
        "mask": active.T.astype(int).tolist(),
    }

  return Method(model=model, loss=loss, optimizer=optimizer,
                architecture=architecture, optimises_architecture=True)
