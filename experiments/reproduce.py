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
that its generated block NAME no longer gives (or, with NAME#ROW, the
row of NAME's table whose first cell is ROW) is flagged: the command
names it and exits 2.
"""

import re
from collections.abc import Callable

from absl import app, flags

from experiments import (
    cli,
    evidence_beyond,
    evidence_complexity,
    evidence_costs,
    evidence_focus1,
    evidence_focus2,
    evidence_initial,
    evidence_modes,
    evidence_summary,
    evidence_toy,
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


BLOCKS: dict[str, Callable[[str], str]] = {
    "summary": evidence_summary.summary,
    "cell_costs": evidence_costs.cell_costs,
    "complexity_table": evidence_complexity.complexity_table,
    "resnet_table": evidence_focus1.resnet_table,
    "rank_tau": evidence_focus1.rank_tau,
    "rank_verdict": evidence_focus1.rank_verdict,
    "gain_table": evidence_focus1.gain_table,
    "pretrain_table": evidence_focus1.pretrain_table,
    "pretrain_verdict": evidence_focus1.pretrain_verdict,
    "toy_overlap": evidence_toy.toy_overlap,
    "toy_verdict": evidence_toy.toy_verdict,
    "toy_gains": evidence_toy.toy_gains,
    "initial_table": evidence_initial.initial_table,
    "initial_advantage": evidence_initial.initial_advantage,
    "initial_verdict": evidence_initial.initial_verdict,
    "beyond_status": evidence_beyond.beyond_status,
    "beyond_table": evidence_beyond.beyond_table,
    "beyond_verdict": evidence_beyond.beyond_verdict,
    "beyond_tau": evidence_beyond.beyond_tau,
    "beyond_balance": evidence_beyond.beyond_balance,
    "focus2_status": evidence_focus2.focus2_status,
    "focus2_table": evidence_focus2.focus2_table,
    "focus2_verdict": evidence_focus2.focus2_verdict,
    "focus2_spread": evidence_focus2.focus2_spread,
    "dd_growth": evidence_focus2.dd_growth,
    "bbdropout_gates": evidence_focus2.bbdropout_gates,
    "dd_growth_verdict": evidence_focus2.dd_growth_verdict,
    "spread_verdict": evidence_focus2.spread_verdict,
    "modes_table": evidence_modes.modes_table,
    "modes_verdict": evidence_modes.modes_verdict}


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


_CLAIM = re.compile(r"<!-- claimed verdict ([\w-]+)(?:#(\w+))?: ([a-z ]+) -->")
_VERDICT = re.compile(r"\*\*(holds|does not hold|inconclusive)\*\*")


def flags_of(text: str) -> list[str]:
  """Hand-written verdicts that their generated block no longer supports,
  one line each. `<!-- claimed verdict NAME: WORD -->` claims the last
  verdict of block NAME; `<!-- claimed verdict NAME#ROW: WORD -->` the
  last verdict of the row of NAME's table whose first cell is ROW."""
  blocks = {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}
  found = []
  for name, row, claimed in _CLAIM.findall(text):
    body = blocks.get(name, "")
    if row:
      body = "".join(line for line in body.splitlines()
                     if line.startswith(f"| {row} |"))
    computed = _VERDICT.findall(body) or ["(no generated verdict)"]
    if claimed != computed[-1]:
      where = f"{name}#{row}" if row else name
      found.append(f"the prose claims {claimed!r} for {where}; its records "
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
