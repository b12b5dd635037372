r"""REPRODUCTION.md's numbers, made again from the committed run records.

  python -m experiments.reproduce --records docs/reproduction \
      --out REPRODUCTION.md

The document keeps its hand-written prose; only the blocks marked

  <!-- generated: NAME -->
  ...
  <!-- end generated -->

are rewritten, each by `BLOCKS[NAME]` from the records under `--records`
(`<grid>/runs/<cell>/metrics.jsonl`, as `--records` on the grid commands
writes them). The template is `--template`, by default REPRODUCTION.md
itself, so `--out /tmp/R.md` followed by `diff /tmp/R.md REPRODUCTION.md`
shows what the records would change, and running it twice changes
nothing. A hand-written verdict marked `<!-- claimed verdict NAME: WORD -->`
that its generated block NAME no longer gives is flagged: the command
names it and exits 2.
"""

import itertools
import os
import re
import statistics
from collections.abc import Callable

from absl import app, flags

from experiments import (
    cli,
    evidence,
    evidence_beyond,
    evidence_focus1,
    evidence_focus2,
)
from jaxdal import metrics

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command's flags, defined when it runs (importing this module, as
  the tests do beside `experiments.report`, defines none)."""
  flags.DEFINE_string("records", "docs/reproduction", "folder of committed "
                      "records: <grid>/runs/<cell>/metrics.jsonl")
  flags.DEFINE_string("out", "REPRODUCTION.md", "the document to write")
  flags.DEFINE_string("template", "REPRODUCTION.md", "the document whose "
                      "marked blocks are rewritten; the rest is kept as it "
                      "is")

_BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)"
                    r"(<!-- end generated -->)", re.S)
_TOY_NETWORKS = ("2", "4-2", "4-4-2")


def _toy_gains(records: str) -> tuple[list[str], dict[str, list]]:
  """The toy's seeds (`s<k>`) and, per network, entropy's gain over random
  (test accuracy, points) per round, one curve per seed, from
  `toy/runs/s<seed>/mlp<net>_<acq>/`."""
  root = os.path.join(records, "toy", "runs")
  seeds = sorted(evidence.cells(root), key=lambda s: int(s.lstrip("s")))
  gains = {}
  for net in _TOY_NETWORKS:
    gains[net] = []
    for seed in seeds:
      entropy, random = (evidence.accuracies(os.path.join(root, seed,
                                                  f"mlp{net}_{acq}"))
                         for acq in ("entropy", "random"))
      gains[net].append([100 * (e - r) for e, r in zip(entropy, random,
                                                         strict=True)])
  return seeds, gains


def toy_gains(records: str) -> str:
  """Section 8's table: entropy's gain over random (test accuracy, points)
  per toy network and seed, from `toy/runs/s<seed>/mlp<net>_<acq>/`."""
  seeds, gains = _toy_gains(records)
  lines = [f"| MLP | mean gain over rounds 1-5, seeds "
           f"{' / '.join(s.lstrip('s') for s in seeds)} | mean | final "
           f"gain, seeds {' / '.join(s.lstrip('s') for s in seeds)} |",
           "|---|---|---|---|"]
  for net in _TOY_NETWORKS:
    means = [statistics.mean(curve[1:6]) for curve in gains[net]]
    finals = [curve[-1] for curve in gains[net]]
    lines.append(f"| {net} | {' / '.join(map(evidence.signed, means))} | "
                 f"{evidence.signed(statistics.mean(means))} | "
                 f"{' / '.join(map(evidence.signed, finals))} |")
  return "\n".join(lines) + "\n"


def _initial_runs(records: str) -> dict[tuple[int, str, str], list[float]]:
  """focus1_initial's test accuracies (points) by (initial size,
  acquisition, seed), from cells named `<data>_<net>_<initial>_<acq>_s<k>`."""
  root = os.path.join(records, "focus1_initial", "runs")
  runs = {}
  for cell in evidence.cells(root):
    *_, initial, acq, seed = cell.split("_")
    runs[int(initial), acq, seed] = [100 * a for a in evidence.accuracies(
        os.path.join(root, cell))]
  return runs


def initial_table(records: str) -> str:
  """Section 7's table: mean +- sd over the runs of each initial size
  (every acquisition and seed), per round."""
  runs = _initial_runs(records)
  sizes = sorted({k[0] for k in runs})
  rounds = min(len(v) for v in runs.values())
  lines = ["| initial | round 0 | " + " | ".join(map(str, range(1, rounds)))
           + " |", "|---" * (rounds + 1) + "|"]
  for size in sizes:
    curves = [v for k, v in runs.items() if k[0] == size]
    lines.append(f"| {size} | " + " | ".join(
        f"{statistics.mean(c[r] for c in curves):.1f} ± "
        f"{statistics.stdev(c[r] for c in curves):.1f}"
        for r in range(rounds)) + " |")
  return "\n".join(lines) + "\n"


def initial_advantage(records: str) -> str:
  """Section 7's numbers: the largest start's advantage over the smallest
  at equal rounds (mean over acquisitions, per seed), at the first and
  last round, and the starts' means at equal labels."""
  runs = _initial_runs(records)
  sizes = sorted({k[0] for k in runs})
  small, large = sizes[0], sizes[-1]
  acqs = sorted({k[1] for k in runs})
  seeds = sorted({k[2] for k in runs})
  last = min(len(v) for v in runs.values()) - 1
  step = sizes[1] - sizes[0]  # labels added per round (100)

  def advantage(r):
    per_seed = [statistics.mean(runs[large, a, s][r] - runs[small, a, s][r]
                                for a in acqs) for s in seeds]
    return " / ".join(f"{v:.1f}" for v in per_seed)

  def at_labels(labels):
    means = [statistics.mean(v[(labels - size) // step]
                             for k, v in runs.items() if k[0] == size)
             for size in sizes]
    return (f"{max(means) - min(means):.1f} points at {labels} labels "
            f"({' / '.join(f'{m:.1f}' for m in means)})")

  return (f"The advantage of {large} over {small} initial labels at equal "
          f"rounds (mean over the {len(acqs)} acquisitions; seeds "
          f"{' / '.join(s.lstrip('s') for s in seeds)}) is "
          f"{advantage(0)} points at round 0 and {advantage(last)} at "
          f"round {last}; at equal labels the {len(sizes)} starts are "
          f"within {at_labels(large)} and {at_labels(small + last * step)}."
          f"\n")


def toy_verdict(records: str) -> str:
  """Section 8's verdict on "whether entropy beats random depends on the
  architecture": per network, entropy's mean gain over random in rounds
  1-5 with its interval over seeds and the rule's verdict; the claim holds
  when one network's gain holds and another's does not hold."""
  seeds, gains = _toy_gains(records)
  parts, verdicts = [], []
  for net in _TOY_NETWORKS:
    mean, low, high = evidence.seed_interval(
        statistics.mean(curve[1:6]) for curve in gains[net])
    verdicts.append(evidence.rule_verdict(low, high))
    parts.append(f"MLP {net}: {evidence.signed(mean)} points "
                 f"[{evidence.signed(low)}, {evidence.signed(high)}], "
                 f"{verdicts[-1]}")
  claim = ("holds" if "holds" in verdicts and "does not hold" in verdicts
           else "inconclusive")
  return (f"Entropy's gain over random by the stated rule ({len(seeds)} "
          f"seeds; mean of rounds 1-5, 95 % bootstrap interval over "
          f"seeds): {'; '.join(parts)}. That the gain depends on the "
          f"architecture (one network's gain holds, another's does not "
          f"hold): **{claim}**.\n")


def toy_overlap(records: str) -> str:
  """How much the toy networks' entropy picks overlap: the Jaccard index
  of every pair of networks' acquired sets, over pairs and seeds."""
  root = os.path.join(records, "toy", "runs")
  indices = []
  for seed in evidence.cells(root):
    picked = {}
    for net in _TOY_NETWORKS:
      picked[net] = {i for r in evidence.records(os.path.join(
          root, seed, f"mlp{net}_entropy")) for i in r["acquired"] or []}
    indices += [len(picked[a] & picked[b]) / len(picked[a] | picked[b])
                for a, b in itertools.combinations(_TOY_NETWORKS, 2)]
  return (f"In every seed the three networks' entropy picks share only "
          f"{100 * min(indices):.0f}-{100 * max(indices):.0f} % of their "
          f"examples (Jaccard index of each pair's acquired sets).\n")


BLOCKS: dict[str, Callable[[str], str]] = {
    "rank_tau": evidence_focus1.rank_tau,
    "rank_verdict": evidence_focus1.rank_verdict,
    "gain_table": evidence_focus1.gain_table,
    "pretrain_table": evidence_focus1.pretrain_table,
    "pretrain_verdict": evidence_focus1.pretrain_verdict,
    "toy_overlap": toy_overlap,
    "toy_verdict": toy_verdict,
    "toy_gains": toy_gains, "initial_table": initial_table,
    "initial_advantage": initial_advantage,
    "beyond_status": evidence_beyond.beyond_status,
    "beyond_table": evidence_beyond.beyond_table,
    "beyond_verdict": evidence_beyond.beyond_verdict,
    "beyond_tau": evidence_beyond.beyond_tau,
    "beyond_balance": evidence_beyond.beyond_balance,
    "focus2_status": evidence_focus2.focus2_status,
    "focus2_table": evidence_focus2.focus2_table,
    "focus2_verdict": evidence_focus2.focus2_verdict,
    "focus2_spread": evidence_focus2.focus2_spread,
    "dd_growth": evidence_focus2.dd_growth}


def render(template: str, records: str) -> str:
  """`template` with every marked block rewritten from `records`.

  Raises:
    ValueError: a block name without a generator, or a start marker
      without its end.
  """
  starts = template.count("<!-- generated: ")
  if starts != len(_BLOCK.findall(template)):
    raise ValueError("a '<!-- generated: NAME -->' marker has no "
                     "'<!-- end generated -->' after it")

  def block(m: re.Match) -> str:
    name = m.group(2)
    if name not in BLOCKS:
      raise ValueError(f"unknown generated block {name!r}; valid: "
                       f"{', '.join(sorted(BLOCKS))}")
    return m.group(1) + BLOCKS[name](records) + m.group(4)

  return _BLOCK.sub(block, template)


_CLAIM = re.compile(r"<!-- claimed verdict ([\w-]+): ([a-z ]+) -->")
_VERDICT = re.compile(r"\*\*(holds|does not hold|inconclusive)\*\*")


def flags_of(text: str) -> list[str]:
  """Hand-written verdicts (`<!-- claimed verdict NAME: WORD -->`) that the
  generated block NAME no longer supports: one line each."""
  generated = {m.group(2): _VERDICT.findall(m.group(3))
               for m in _BLOCK.finditer(text)}
  found = []
  for name, claimed in _CLAIM.findall(text):
    computed = generated.get(name) or ["(no generated verdict)"]
    if claimed != computed[-1]:
      found.append(f"the prose claims {claimed!r} for {name}; its records "
                   f"give {computed[-1]!r}")
  return found


def main(argv):
  del argv

  def go():
    with open(FLAGS.template) as f:
      text = render(f.read(), FLAGS.records)
    metrics.write_text(FLAGS.out, text)
    print(f"wrote {FLAGS.out}: {len(_BLOCK.findall(text))} generated "
          f"blocks from {FLAGS.records}")
    flagged = flags_of(text)
    if flagged:
      raise ValueError("verdicts to revise: " + "; ".join(flagged))

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
