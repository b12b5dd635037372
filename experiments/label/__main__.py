r"""Active learning with a person in the loop: label your own images or
texts, on a local page or through CSV files.

  python -m experiments.label --data photos/ --classes cat,dog,bird \
      --workdir runs/label/photos --test test.csv
  python -m experiments.label query --workdir runs/label/photos
  python -m experiments.label teach --workdir runs/label/photos \
      --labels runs/label/photos/queries/round_000.csv
  python -m experiments.label status --workdir runs/label/photos
  python -m experiments.label export --workdir runs/label/photos

The first form serves the page on 127.0.0.1 (the port is printed). `query`
writes the current batch as `queries/round_NNN.csv` (and a contact sheet
for images); `teach` takes the filled CSV back, trains the round and writes
the next batch. Every answer is on disk before it is acknowledged; the
same command on the same workdir resumes where it stopped. After the first
command, the others need only `--workdir` (the rest is in its
`config.json`).
"""

import csv
import io
import json
import os

from absl import app, flags

from experiments import cli
from experiments.configs import focus1 as focus1_config
from experiments.label import inputs as inputs_lib
from experiments.label import rounds as rounds_lib
from experiments.label import sheets, start
from jaxdal import acquisition, archopt, metrics, models

_IMPORT_FLAGS = cli.define_import_flag()
COMMANDS = ("serve", "query", "teach", "status", "export")

flags.DEFINE_string("data", "", "a folder of images (PNG/JPEG), or a CSV / "
                    "JSONL file of texts with an id column")
flags.DEFINE_string("classes", "", "the class names, comma-separated (two or "
                    "more, distinct)")
flags.DEFINE_string("labeled", "", "a CSV of id,label: an initial labeled set")
flags.DEFINE_string("test", "", "a labelled held-out CSV (images: id = path "
                    "relative to the CSV, label; texts: text, label), to "
                    "report accuracy each round")
flags.DEFINE_string("backbone", "", "network for a fixed backbone "
                    f"({', '.join(models.names())}; default: cnn for images, "
                    "minilm for texts)")
flags.DEFINE_string("method", "", "an architecture-optimisation method "
                    f"instead of a backbone ({', '.join(archopt.names())})")
flags.DEFINE_string("acquisition", "entropy", "acquisition function "
                    f"({', '.join(acquisition.names())})")
flags.DEFINE_integer("acquire", 20, "examples per batch")
flags.DEFINE_integer("budget", 0, "labels in all (default: the initial ones "
                     "plus 10 batches)")
flags.DEFINE_integer("seed", 0, "seed of every random draw")
flags.DEFINE_integer("ensemble", 1, "train a deep ensemble of this many "
                     "networks as one vmapped step (a fixed backbone); the "
                     "acquisitions read the members as their samples")
flags.DEFINE_integer("image_size", 0, "images are resized to this side "
                     "(default: 32 for ResNets and VGGs, else 28)")
flags.DEFINE_integer("max_length", 64, "tokens per text")
flags.DEFINE_string("id_column", "id", "the texts' id column")
flags.DEFINE_string("text_column", "text", "the texts' text column")
flags.DEFINE_integer("port", 8765, "port on 127.0.0.1 (0: a free one)")
flags.DEFINE_string("labels", "", "teach: the filled CSV (id,label; empty: "
                    "no answer; skip or unsure: never trained on)")
flags.DEFINE_string("out", "", "export: the CSV to write (default "
                    "<workdir>/labels.csv)")
_RUN_FLAGS = cli.define_run_flags(focus1_config.PRESETS[:3], "none: required")
for _name in _IMPORT_FLAGS + _RUN_FLAGS:
  flags.declare_key_flag(_name)
FLAGS = flags.FLAGS

_OPTION_FLAGS = ("data", "classes", "labeled", "test", "backbone", "method",
                 "acquisition", "acquire", "budget", "preset", "seed",
                 "ensemble",
                 "image_size", "max_length", "id_column", "text_column")


def _command(argv: list[str]) -> str:
  if len(argv) > 2:
    raise ValueError(f"one command at most, got {' '.join(argv[1:])}; "
                     f"valid: {', '.join(COMMANDS)}")
  name = argv[1] if len(argv) == 2 else "serve"
  if name not in COMMANDS:
    raise ValueError(f"unknown command {name!r}; valid: "
                     f"{', '.join(COMMANDS)}")
  return name


def _options() -> dict:
  """The run's options: typed flags, or the workdir's `config.json` when
  `--data` is not given."""
  if not FLAGS.workdir:
    raise ValueError("--workdir is required")
  config_path = os.path.join(FLAGS.workdir, metrics.CONFIG_FILE)
  if not FLAGS.data:
    if not os.path.isfile(config_path):
      raise ValueError(f"no labelling run in {FLAGS.workdir!r}: start one "
                       f"with --data and --classes")
    with open(config_path) as f:
      options = json.load(f).get("label")
    if not isinstance(options, dict):
      raise ValueError(f"{config_path} holds no labelling run")
    return options
  options = {name: FLAGS[name].value for name in _OPTION_FLAGS}
  options["classes"] = list(inputs_lib.parse_classes(FLAGS.classes))
  is_text = os.path.isfile(FLAGS.data)
  options["backbone"] = FLAGS.backbone or ("" if FLAGS.method else (
      "minilm" if is_text else "cnn"))
  if not options["image_size"]:
    options["image_size"] = (32 if focus1_config.is_heavy(
        options["backbone"]) else 28)
  if options["acquire"] < 1:
    raise ValueError(f"--acquire must be positive, got {options['acquire']}")
  return options


def _write_query(run: rounds_lib.LabelRun) -> str:
  """`queries/round_NNN.csv` of the current batch (answers so far filled
  in), plus a contact sheet for images; returns the CSV's path."""
  batch, given = run.batch, run.answers()
  folder = os.path.join(run.workdir, "queries")
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, f"round_{batch['round']:03d}.csv")
  out = io.StringIO()
  w = csv.writer(out)
  w.writerow(["id", "label", "predicted", "confidence",
              batch["score_name"] or "score"])
  for pos, ident in enumerate(batch["ids"]):
    a = given.get(ident)
    w.writerow([ident, a["answer"] if a else "",
                batch["predicted"][pos] if batch["predicted"] else "",
                batch["confidence"][pos] if batch["confidence"] else "",
                batch["scores"][pos] if batch["scores"] else ""])
  metrics.write_text(path, out.getvalue())
  if run.inputs.kind == "images":
    sheets.contact_sheet([run.inputs.shown[i] for i in batch["indices"]],
                         path[:-4] + ".png")
  return path


def _teach(run: rounds_lib.LabelRun, labels_path: str) -> None:
  """Records the answers in `labels_path`, then trains the round."""
  if not labels_path:
    raise ValueError("teach needs --labels FILE (the filled query CSV)")
  rows = inputs_lib.read_labels(labels_path, run.inputs.classes)
  batch_ids, r = set(run.batch["ids"]), run.batch["round"]
  for ident, _ in rows:
    if ident not in batch_ids:
      earlier = [b for b in range(r) if ident in run.answers(b)]
      raise ValueError(
          f"{labels_path}: id {ident!r} " + (
              f"was answered in batch {earlier[-1]}, which is trained"
              if earlier else "was never queried")
          + f"; this batch is {run.workdir}/queries/round_{r:03d}.csv")
  if not rows:
    raise ValueError(f"{labels_path} gives no answer (fill the label "
                     f"column with {', '.join(run.inputs.classes)})")
  for ident, answer in rows:
    run.answer(ident, answer, "teach")
  record = run.train_round()
  acc = record["test_accuracy"]
  print(f"round {record['round']}: {record['labeled']} labeled, training "
        f"accuracy {100 * record['train_accuracy']:.1f}%"
        + (f", test accuracy {100 * acc:.2f}%" if acc is not None else "")
        + f" ({record['time']['round_s']} s)")


def _status(run: rounds_lib.LabelRun) -> None:
  st = run.status()
  print(f"{run.workdir}: batch {st['round']}, {st['answered']} of "
        f"{st['batch_size']} answered; {st['labeled']} labeled of budget "
        f"{st['budget']}" + ("; done" if st["done"] else ""))
  for rec in st["records"]:
    acc = rec["test_accuracy"]
    print(f"  round {rec['round']:>3}: {rec['labeled']:>5} labeled, train "
          f"{100 * rec['train_accuracy']:5.1f}%, test "
          + (f"{100 * acc:5.2f}%" if acc is not None else "  -  ")
          + f", {rec['epochs']} epochs")


def _export(run: rounds_lib.LabelRun, out: str) -> None:
  out = out or os.path.join(run.workdir, "labels.csv")
  text = io.StringIO()
  w = csv.DictWriter(text, fieldnames=["id", "label", "round"])
  w.writeheader()
  answers = run.all_answers()
  w.writerows(answers)
  metrics.write_text(out, text.getvalue())
  print(f"{len(answers)} answers written to {out}")


def _server():
  try:
    from experiments.label import server
  except ImportError as e:
    raise ValueError(f"the labelling page needs Flask ({e}): pip install "
                     f"-e '.[label]'; or label without a browser: query "
                     f"and teach") from None
  return server


def main(argv):
  def go():
    command = _command(argv)
    if command == "serve":  # checked before the workdir is touched
      server = _server()
      server.check_port(FLAGS.port)
    run = start.open_options(FLAGS.workdir, _options(),
                                   overwrite=FLAGS.overwrite)
    try:
      if command == "serve":
        server.serve(run, FLAGS.port)
      elif command == "query":
        print(f"batch {run.batch['round']}: {_write_query(run)}")
      elif command == "teach":
        _teach(run, FLAGS.labels)
        if not run.batch["done"]:
          print(f"next batch: {_write_query(run)}")
      elif command == "status":
        _status(run)
      else:
        _export(run, FLAGS.out)
    finally:
      run.close()

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
