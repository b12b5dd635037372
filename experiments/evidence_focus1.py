"""REPRODUCTION.md's blocks for findings 1 and 2, from the `focus1_medium`
records (`<data>_<backbone>_<acquisition>_<pretraining>_s<seed>` cells).
"""

import itertools
import os
import statistics

from experiments import evidence
from jaxdal import metrics, rank_correlation

__all__ = ["gain_table", "pretrain_effects", "pretrain_table",
           "pretrain_verdict", "rank_effects", "rank_tau", "rank_verdict",
           "resnet_table"]

_GRID = "focus1_medium"
_PROTOCOL = ("pool_size", "val_size", "test_size", "max_epochs")


def _runs(records: str) -> dict[tuple, str]:
  """`{(data, backbone, acquisition, pretraining, seed): folder}` of the
  seeds every cell of the grid has finished (a half-done seed is left
  out: every comparison below pairs complete seeds)."""
  root = os.path.join(records, _GRID, "runs")
  out = {}
  for cell in evidence.cells(root):
    *data, backbone, acq, pretrain, seed = cell.split("_")
    out["_".join(data), backbone, acq, pretrain, int(seed[1:])] = \
        os.path.join(root, cell)
  combos = list(itertools.product(*(sorted({k[i] for k in out})
                                    for i in range(4))))
  seeds = {s for s in {k[4] for k in out}
           if all(c + (s,) in out for c in combos)}
  return {k: v for k, v in out.items() if k[4] in seeds}


def _axes(runs: dict) -> tuple[list, ...]:
  """The sorted values of each axis (data, backbone, acquisition,
  pretraining, seed)."""
  return tuple(sorted({k[i] for k in runs},
                      key=lambda v: (v != "none", v)) for i in range(5))


def _aucs(records: str) -> tuple[dict, tuple]:
  runs = _runs(records)
  return {k: evidence.auc(p) for k, p in runs.items()}, _axes(runs)


def _ranking(aucs, data, backbone, pretrain, seeds, acqs) -> dict:
  """`{acquisition: AUC}`, the mean over `seeds`."""
  return {a: statistics.mean(aucs[data, backbone, a, pretrain, s]
                             for s in seeds) for a in acqs}


def _taus(aucs, axes):
  """Per (data, pretraining): the cross-backbone tau-b of the seed means,
  per seed, and within each backbone between two seeds."""
  datas, backbones, acqs, pretrains, seeds = axes
  a, b = backbones
  out = {}
  for data, pre in itertools.product(datas, pretrains):
    def rank(net, ss, data=data, pre=pre):
      return _ranking(aucs, data, net, pre, ss, acqs)
    out[data, pre] = dict(
        means=rank_correlation.kendall_tau(rank(a, seeds), rank(b, seeds)),
        cross={s: rank_correlation.kendall_tau(rank(a, [s]), rank(b, [s]))
               for s in seeds},
        within={net: {(s, t): rank_correlation.kendall_tau(
            rank(net, [s]), rank(net, [t]))
            for s, t in itertools.combinations(seeds, 2)}
            for net in backbones})
  return out


def rank_tau(records: str) -> str:
  """Finding 1's table: Kendall's tau-b between the two backbones'
  acquisition rankings (normalised AUC as recorded), and between two
  seeds of one backbone, with the spread of tau under independence."""
  aucs, axes = _aucs(records)
  datas, backbones, acqs, pretrains, seeds = axes
  taus = _taus(aucs, axes)
  lines = [f"| data, pretraining | tau-b {backbones[0]} vs {backbones[1]}, "
           f"seed means | per seed ({', '.join(map(str, seeds))}) | seed vs "
           f"seed, same backbone ({'; '.join(backbones)}) |",
           "|---|---|---|---|"]
  for (data, pre), t in taus.items():
    within = "; ".join(f"{min(w.values()):.2f} to {max(w.values()):.2f}"
                       for w in t["within"].values())
    lines.append(f"| {evidence.NAMES[data]}, {evidence.NAMES[pre]} | "
                 f"{t['means']:.2f} | "
                 + ", ".join(f"{t['cross'][s]:.2f}" for s in seeds)
                 + f" | {within} |")
  null = evidence.kendall_null(len(acqs))
  return ("\n".join(lines) + f"\n\nTwo independent rankings of {len(acqs)} "
          f"functions reach |tau-b| >= {null:.2f} with probability 5 % "
          f"(all {len(acqs)}! orders enumerated), so a single tau below "
          f"that is no evidence of agreement.\n")


def rank_effects(records: str) -> tuple[int, list[float]]:
  """`(groups, per-seed effects)`: per seed, the mean tau-b between that
  seed and the others within a backbone minus the tau-b between the
  backbones, averaged over the data and pretraining groups."""
  aucs, axes = _aucs(records)
  taus = _taus(aucs, axes)
  effects = []
  for s in axes[4]:
    per_group = []
    for t in taus.values():
      within = [v for w in t["within"].values() for pair, v in w.items()
                if s in pair]
      per_group.append(statistics.mean(within) - t["cross"][s])
    effects.append(statistics.mean(per_group))
  return len(taus), effects


def rank_verdict(records: str) -> str:
  """Finding 1's verdict: per seed, how much more two seeds of one
  backbone agree than the two backbones do (`rank_effects`), with its
  interval over seeds."""
  groups, effects = rank_effects(records)
  mean, low, high = evidence.seed_interval(effects)
  verdict = evidence.rule_verdict(low, high)
  return (f"The backbone reorders the functions more than the seed does "
          f"({len(effects)} seeds; per seed, the mean tau-b between that "
          f"seed and the others within a backbone minus the tau-b between "
          f"the backbones, averaged over the {groups} data and "
          f"pretraining groups; 95 % bootstrap interval over seeds): "
          f"{mean:+.2f} [{low:+.2f}, {high:+.2f}], seeds "
          f"{' / '.join(f'{e:+.2f}' for e in effects)}: **{verdict}**.\n")


def gain_table(records: str) -> str:
  """Finding 1's gains: each function's gain over random (test accuracy,
  points, mean over all rounds), mean +- sample sd over seeds, without
  pretraining."""
  runs = _runs(records)
  datas, backbones, acqs, _, seeds = _axes(runs)
  others = [a for a in acqs if a != "random"]
  lines = ["| data / backbone | " + " | ".join(others) + " |",
           "|---" * (len(others) + 1) + "|"]
  for data, net in itertools.product(datas, backbones):
    cells = []
    for acq in others:
      per_seed = [100 * statistics.mean(
          x - r for x, r in zip(
              evidence.accuracies(runs[data, net, acq, "none", s]),
              evidence.accuracies(runs[data, net, "random", "none", s]),
              strict=True)) for s in seeds]
      cells.append(f"{statistics.mean(per_seed):+.2f} ± "
                   f"{statistics.stdev(per_seed):.2f}")
    lines.append(f"| {evidence.NAMES[data]} / {net} | "
                 + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def pretrain_effects(records: str):
  """Per (data, backbone): per seed, the mean over acquisitions of the AUC
  change (points) that DeepCluster makes, and each pair's AUC and final
  accuracy changes."""
  runs = _runs(records)
  datas, backbones, acqs, _, seeds = _axes(runs)
  out = {}
  for data, net in itertools.product(datas, backbones):
    pairs = {(a, s): (runs[data, net, a, "deepcluster", s],
                      runs[data, net, a, "none", s])
             for a in acqs for s in seeds}
    auc = {k: 100 * (evidence.auc(p) - evidence.auc(q))
           for k, (p, q) in pairs.items()}
    final = {k: 100 * (evidence.accuracies(p)[-1]
                       - evidence.accuracies(q)[-1])
             for k, (p, q) in pairs.items()}
    out[data, net] = dict(
        auc=auc, final=final,
        per_seed=[statistics.mean(auc[a, s] for a in acqs) for s in seeds])
  return out, seeds


def pretrain_table(records: str) -> str:
  """Finding 2's table: DeepCluster against no pretraining, each run paired
  with the same acquisition and seed."""
  effects, seeds = pretrain_effects(records)
  lines = [f"| data / backbone | pairs | AUC change (points) | per seed "
           f"({', '.join(map(str, seeds))}) | 95 % interval | pairs "
           f"improved | final accuracy change (points) |",
           "|---|---|---|---|---|---|---|"]
  for (data, net), e in effects.items():
    mean, low, high = evidence.seed_interval(e["per_seed"])
    better = sum(v > 0 for v in e["auc"].values())
    lines.append(
        f"| {evidence.NAMES[data]} / {net} | {len(e['auc'])} | {mean:+.2f} | "
        + ", ".join(f"{v:+.2f}" for v in e["per_seed"])
        + f" | [{low:+.2f}, {high:+.2f}] | {better} of {len(e['auc'])} | "
        f"{statistics.mean(e['final'].values()):+.2f} |")
  return "\n".join(lines) + "\n"


def pretrain_verdict(records: str) -> str:
  """Finding 2's verdict: pretraining helps some pairs and hurts others
  when one group's interval is above zero and another's below."""
  effects, seeds = pretrain_effects(records)
  verdicts = {k: evidence.effect_verdict(e["per_seed"])
              for k, e in effects.items()}
  helped = [f"{evidence.NAMES[d]} / {n}" for (d, n), v in verdicts.items()
            if v == "holds"]
  hurt = [f"{evidence.NAMES[d]} / {n}" for (d, n), v in verdicts.items()
          if v == "does not hold"]
  claim = evidence.claim_some_each_way(list(verdicts.values()))
  return (f"By the stated rule ({len(seeds)} seeds; each group's per-seed "
          f"mean AUC change and its interval above): DeepCluster helps "
          f"{', '.join(helped) or 'no group'} and hurts "
          f"{', '.join(hurt) or 'no group'}; that it helps some pairs and "
          f"hurts others: **{claim}**.\n")


def resnet_table(records: str) -> str:
  """The committed ResNet-18 runs (`focus1_medium_resnet_s11`): each
  one's AUC and last-round accuracy, and the protocol its config records
  beside the CNN's and the MLP's in `focus1_medium`."""
  root = os.path.join(records, "focus1_medium_resnet_s11", "runs")
  lines = ["| acquisition, pretraining | seed | AUC (points) | accuracy at "
           "the last round (%) | host CPU |", "|---|---|---|---|---|"]
  sizes = set()
  for cell in evidence.cells(root):
    config, recs = metrics.read_run(os.path.join(root, cell))
    sizes.add(tuple(config[k] for k in _PROTOCOL))
    lines.append(
        f"| {config['acquisition']}, {evidence.NAMES[config['pretrain']]} | "
        f"{config['seed']} | {100 * evidence.auc(os.path.join(root, cell)):.1f}"
        f" | {100 * recs[-1]['test_accuracy']:.1f} | "
        f"{(recs[-1].get('host') or {}).get('cpu', 'not recorded')} |")
  small = os.path.join(records, _GRID, "runs")
  config, _ = metrics.read_run(os.path.join(small, evidence.cells(small)[0]))
  return ("\n".join(lines) + "\n\nProtocol (" + ", ".join(_PROTOCOL)
          + "): ResNet-18 " + "; ".join(" / ".join(map(str, s))
                                        for s in sorted(sizes))
          + "; the CNN and the MLP "
          + " / ".join(str(config[k]) for k in _PROTOCOL) + ".\n")
