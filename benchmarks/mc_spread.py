r"""How much MC dropout varies in a finished run: its last round's network,
T MC-dropout samples of the probabilities of its pool candidates.

  python benchmarks/mc_spread.py runs/focus1/reuters_tm_minilm_bald_s0

Reopens the workdir (a finished run resumes without training), predicts
with the run's own predictor (its `mc_samples`, `chunk` and round key) and
prints the spread across samples: the mean over examples of the standard
deviation of p(class) across samples, the mean BALD score (0 exactly when
every sample agrees) and the share of examples whose samples differ.
"""

import json
import os
import sys

import jax
import numpy as np

from jaxdal import acquisition, context, loop, settings
from jaxdal import predict as predict_lib


def main(workdir: str) -> None:
  with open(os.path.join(workdir, "config.json")) as f:
    s = settings.Settings.from_config(json.load(f))
  with loop.open_run(s, workdir, progress=False, log=lambda _: None) as ctx:
    predictor = predict_lib.make_predictor(
        ctx.network.method.model, mc_samples=max(s.active.mc_samples, 2),
        chunk=s.active.chunk)
    variables = {"params": ctx.state.params, **ctx.state.model_state}
    key = jax.random.fold_in(jax.random.fold_in(
        ctx.rounds_root, ctx.next_round - 1), context.PREDICT)
    probs = np.asarray(predict_lib.predict_probs(
        predictor, variables, ctx.task.x_train, key, ctx.candidates))
  spread = probs.std(axis=0).max(axis=-1)  # [N]
  bald = np.asarray(acquisition.bald(probs))
  print(f"{workdir}: {probs.shape[0]} MC samples of {probs.shape[1]} "
        f"candidates; mean std of p across samples {spread.mean():.4f} "
        f"(max {spread.max():.4f}); mean BALD {bald.mean():.5f} nats; "
        f"samples differ for {np.mean(spread > 1e-6):.0%} of examples")


if __name__ == "__main__":
  main(sys.argv[1])
