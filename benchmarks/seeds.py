r"""Seeds trained together (`train.fit_group` with `seeds.together`, one
vmapped step) against the same seeds trained one by one (`train.fit`), per
backbone.

  python benchmarks/seeds.py                    # mlp and cnn, 3 seeds
  python benchmarks/seeds.py --models mlp --seeds 3 --epochs 5

Each seed trains `--epochs` epochs (no early stop: the target accuracy is
above 1) on its own 500 examples of a synthetic 28x28x1 set; the first fit
of each kind is a warm-up that compiles, the second is timed. Prints one
JSON row per model: seconds one by one, together, and the speed-up.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import data, models, optim, seeds, train

KWARGS = {"mlp": {"hidden": (256, 256)}, "cnn": {"depth": 3, "width": 32}}


def bench(name: str, n_seeds: int, epochs: int, batch: int) -> dict:
  ds = data.synthetic(num_train=3000, num_test=10, shape=(28, 28, 1),
                      num_classes=10, seed=0)
  model = models.build(name, 10, **KWARGS.get(name, {}))
  tx = optim.make_optimizer("adam", learning_rate=1e-3)
  x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  rng = np.random.default_rng(0)
  train_idx = [rng.choice(2500, 500, replace=False) for _ in range(n_seeds)]
  val_idx = [2500 + rng.choice(500, 200, replace=False)
             for _ in range(n_seeds)]
  keys = [jax.random.key(s) for s in range(n_seeds)]
  fit_kw = dict(batch_size=batch, max_epochs=epochs, learning_rate=1e-3,
                patience=epochs + 1, target_train_accuracy=2.0,
                progress=False)

  def states():
    return [train.init_state(model, tx, jax.random.key(100 + s),
                             ds.input_shape) for s in range(n_seeds)]

  trainer = train.make_trainer(model, tx)

  def one_by_one():
    out = [train.fit(trainer, st, x, y, ti, vi, k, **fit_kw)
           for st, ti, vi, k in zip(states(), train_idx, val_idx, keys,
                                    strict=True)]
    jax.block_until_ready([s for s, _ in out])

  seed_trainer = seeds.together(model, tx)

  def together():
    out = train.fit_group(seed_trainer, states(), x, y, train_idx, val_idx,
                          keys, **fit_kw)
    jax.block_until_ready([s for s, _ in out])

  timings = {}
  for label, fn in (("one_by_one_s", one_by_one), ("together_s", together)):
    fn()  # compiles
    t0 = time.perf_counter()
    fn()
    timings[label] = round(time.perf_counter() - t0, 2)
  return {"model": name, "seeds": n_seeds, "epochs": epochs, "batch": batch,
          **timings,
          "speedup": round(timings["one_by_one_s"] / timings["together_s"],
                           2),
          "backend": jax.default_backend()}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--models", default="mlp,cnn")
  ap.add_argument("--seeds", type=int, default=3)
  ap.add_argument("--epochs", type=int, default=3)
  ap.add_argument("--batch", type=int, default=32)
  args = ap.parse_args()
  for name in args.models.split(","):
    print(json.dumps(bench(name, args.seeds, args.epochs, args.batch)),
          flush=True)


if __name__ == "__main__":
  main()
