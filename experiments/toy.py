r"""The paper's Figure 1: how the architecture changes what uncertainty
sampling selects, on two interleaved moons.

  python -m experiments.toy --workdir runs/toy

MLPs with hidden layers 2, 4-2 and 4-4-2 learn the moons by active
learning with entropy sampling and with random sampling. The figure shows,
per architecture, the decision boundary in the data space and in the last
hidden layer's 2-D feature space with the acquired points marked, and the
accuracy gain of entropy over random per round. Under a minute on a CPU.
"""

import os

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from experiments import cli  # noqa: E402
from jaxdal import (  # noqa: E402
    checkpoint,
    data,
    loop,
    metrics,
    models,
    optim,
    train,
)

ARCHITECTURES = {"2": (2,), "4-2": (4, 2), "4-4-2": (4, 4, 2)}
STRATEGIES = ("entropy", "random")

# Like every CLI's, though the toy's own runs choose nothing by name.
flags.declare_key_flag(*cli.define_import_flag())
flags.DEFINE_string("workdir", "runs/toy",
                    "output folder (the runs and the figure)")
flags.DEFINE_integer("seed", 0, "seed of the data and of every run")
flags.DEFINE_integer("rounds", 6, "training rounds")
FLAGS = flags.FLAGS


# The paper's toy networks: tanh units, no dropout.
TOY_MLP = dict(activation="tanh", dropout_rate=0.0)


def toy_settings(hidden, acquisition: str, *, seed: int,
                 rounds: int) -> loop.Settings:
  return loop.Settings.of(
      dataset="moons", dataset_kwargs=dict(num_train=300, num_test=300,
                                           noise=0.15, seed=seed),
      backbone="mlp", backbone_kwargs=dict(hidden=list(hidden), **TOY_MLP),
      acquisition=acquisition, rounds=rounds, initial=6, acquire=6,
      seed=seed, batch_size=16, max_epochs=300, patience=60,
      target_train_accuracy=None, optimizer="adam", learning_rate=3e-2,
      schedule="constant", val_fraction=0.1)


def _final_model(settings: loop.Settings, workdir: str):
  """(model, variables, pool) of the last round, read from the run's files."""
  ds = data.load(settings.data.dataset, **settings.data.dataset_kwargs)
  model = models.build("mlp", 2, **settings.arch.backbone_kwargs)
  tx = optim.make_optimizer("adam", learning_rate=1e-3)
  like = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
  pool_like = data.init_pool(jax.random.key(0), ds.y_train,
                             initial=settings.active.initial)
  ckpt = checkpoint.RoundCheckpointer(os.path.join(workdir, "checkpoints"))
  try:
    state, pool, _, _ = ckpt.restore(ckpt.latest_round(),
                                     train_state_like=like,
                                     pool_like=pool_like)
  finally:
    ckpt.close()
  return ds, model, {"params": state.params, **state.model_state}, pool


def run_toy(out: str, *, seed: int = 0, rounds: int = 6,
            log=lambda s: None) -> dict:
  """Runs the 3 x 2 active-learning runs; returns their workdirs."""
  workdirs = {}
  for name, hidden in ARCHITECTURES.items():
    for acq in STRATEGIES:
      workdir = os.path.join(out, "runs", f"mlp{name}_{acq}")
      loop.run(toy_settings(hidden, acq, seed=seed, rounds=rounds), workdir,
               overwrite=True, progress=False, log=log)
      workdirs[(name, acq)] = workdir
  return workdirs


def acquired(workdir: str) -> np.ndarray:
  """Indices acquired over the run (initial set excluded), from its file."""
  _, records = metrics.read_run(workdir)
  return np.array(sorted(i for r in records for i in (r["acquired"] or [])))


def figure(workdirs: dict, out: str, *, seed: int, rounds: int) -> str:
  """The Figure-1 style panel grid; returns the PNG path."""
  fig, axes = plt.subplots(len(ARCHITECTURES), 3, figsize=(12, 3.6 * len(
      ARCHITECTURES)), dpi=110, squeeze=False)
  for row, name in enumerate(ARCHITECTURES):
    settings = toy_settings(ARCHITECTURES[name], "entropy", seed=seed,
                            rounds=rounds)
    ds, model, variables, pool = _final_model(settings,
                                              workdirs[(name, "entropy")])
    picked = acquired(workdirs[(name, "entropy")])
    initial = np.flatnonzero(np.asarray(pool.label_round) == 0)
    x, y = ds.x_train, ds.y_train
    # Data space: predicted class over a grid.
    ax = axes[row, 0]
    g0, g1 = np.meshgrid(np.linspace(x[:, 0].min() - .5, x[:, 0].max() + .5,
                                     200),
                         np.linspace(x[:, 1].min() - .5, x[:, 1].max() + .5,
                                     200))
    grid = jnp.asarray(np.stack([g0.ravel(), g1.ravel()], 1))
    logits, _ = model.apply(variables, grid)
    p1 = np.asarray(jax.nn.softmax(logits)[:, 1]).reshape(g0.shape)
    ax.contourf(g0, g1, p1, levels=20, cmap="RdBu_r", alpha=0.35)
    ax.contour(g0, g1, p1, levels=[0.5], colors="k", linewidths=1.2)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", s=6, alpha=0.5)
    ax.scatter(x[initial, 0], x[initial, 1], marker="s", s=36,
               facecolors="none", edgecolors="g", label="initial")
    ax.scatter(x[picked, 0], x[picked, 1], marker="*", s=70, c="gold",
               edgecolors="k", linewidths=0.5, label="acquired (entropy)")
    ax.set_title(f"MLP {name}: data space", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    # Feature space: the last hidden layer (2 units) and the linear
    # classifier's boundary there.
    ax = axes[row, 1]
    _, feats = model.apply(variables, jnp.asarray(x))
    feats = np.asarray(feats)
    head = variables["params"]["classifier"]
    w = np.asarray(head["kernel"][:, 1] - head["kernel"][:, 0])
    b = float(head["bias"][1] - head["bias"][0])
    f0, f1 = np.meshgrid(np.linspace(-1.05, 1.05, 200),
                         np.linspace(-1.05, 1.05, 200))
    side = f0 * w[0] + f1 * w[1] + b
    ax.contourf(f0, f1, side > 0, levels=1, cmap="RdBu_r", alpha=0.2)
    ax.contour(f0, f1, side, levels=[0.0], colors="k", linewidths=1.2)
    ax.scatter(feats[:, 0], feats[:, 1], c=y, cmap="RdBu_r", s=6, alpha=0.5)
    ax.scatter(feats[picked, 0], feats[picked, 1], marker="*", s=70,
               c="gold", edgecolors="k", linewidths=0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"MLP {name}: last hidden layer (features)", fontsize=10)
    ax.set_xlabel("unit 1")
    ax.set_ylabel("unit 2")
    # Accuracy of entropy and random, and the gain.
    ax = axes[row, 2]
    curves = {a: metrics.learning_curve(metrics.read_run(
        workdirs[(name, a)])[1]) for a in STRATEGIES}
    for a in STRATEGIES:
      ax.plot(curves[a][0], 100 * np.asarray(curves[a][1]), marker="o",
              label=a)
    gain = 100 * (np.asarray(curves["entropy"][1])
                  - np.asarray(curves["random"][1]))
    ax.bar(curves["entropy"][0], gain, width=2.5, color="gray", alpha=0.5,
           label="gain (points)")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title(f"MLP {name}: final gain {gain[-1]:+.1f} points",
                 fontsize=10)
    ax.set_xlabel("labeled examples")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
  path = os.path.join(out, "toy_figure1.png")
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
  return path


def main(argv):
  del argv

  def go():
    if FLAGS.rounds < 2:
      raise ValueError(f"--rounds must be at least 2 (the figure shows the "
                       f"points acquired between rounds), got {FLAGS.rounds}")
    workdirs = run_toy(FLAGS.workdir, seed=FLAGS.seed, rounds=FLAGS.rounds)
    path = figure(workdirs, FLAGS.workdir, seed=FLAGS.seed, rounds=FLAGS.rounds)
    for name in ARCHITECTURES:
      print(f"MLP {name}: entropy acquired "
            f"{acquired(workdirs[(name, 'entropy')]).tolist()}")
    print(f"figure: {path}")

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
