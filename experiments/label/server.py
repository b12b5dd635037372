"""The labelling page's server: Flask on 127.0.0.1, plain HTML and JS from
`static/` (no build step, nothing fetched from the network).

Routes:
  GET  /                      the page
  GET  /api/state             the batch, answers, progress, curve (JSON)
  GET  /api/image/<r>/<pos>   the image at position `pos` of batch `r`
  POST /api/label             {"id", "answer", "client"}: synced, then 200
  POST /api/train             trains the next round in the background

An answer is acknowledged only after it is on disk (`LabelRun.answer`).
While a round trains, answers are refused (409): the round has already
read its batch's answers.
"""

import errno
import os
import socket
import threading
import time

import flask

from experiments.label import rounds as rounds_lib

__all__ = ["check_port", "make_app", "serve"]

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def make_app(run: rounds_lib.LabelRun, log=print) -> flask.Flask:
  """The Flask app over an open `LabelRun`."""
  app = flask.Flask(__name__, static_folder=STATIC, static_url_path="/static")
  guard = threading.Lock()
  progress = rounds_lib.Progress()
  training = {"thread": None, "error": None, "last_s": None}

  def running() -> bool:
    thread = training["thread"]
    return thread is not None and thread.is_alive()

  @app.get("/")
  def index():
    return flask.send_from_directory(STATIC, "index.html")

  @app.get("/api/state")
  def state():
    batch, given = run.batch, run.answers()
    status = run.status()
    items = []
    for pos, ident in enumerate(batch["ids"]):
      a = given.get(ident)
      item = {"pos": pos, "id": ident, "answer": a and a["answer"],
              "client": a and a["client"]}
      for name in ("scores", "predicted", "confidence"):
        if batch[name]:
          item[name[:-1] if name == "scores" else name] = batch[name][pos]
      if run.inputs.kind == "texts":
        item["text"] = run.inputs.shown[batch["indices"][pos]]
      items.append(item)
    last = run.records[-1] if run.records else {}
    return flask.jsonify(
        round=batch["round"], kind=run.inputs.kind,
        classes=list(run.inputs.classes), budget=status["budget"],
        labeled=status["labeled"], done=batch["done"], batch=items,
        score_name=batch["score_name"],
        acquisition=run.options["acquisition"],
        class_counts=last.get("class_counts", {}),
        curve=[{k: rec.get(k) for k in ("round", "labeled", "test_accuracy",
                                        "train_accuracy")}
               for rec in run.records],
        training={"running": running(), "phase": progress.phase,
                  "elapsed": (time.time() - progress.started
                              if progress.started else 0.0),
                  "error": training["error"], "last_s": training["last_s"]},
        unreadable=status["unreadable"])

  @app.get("/api/image/<int:round_>/<int:pos>")
  def image(round_: int, pos: int):
    batch = run.batch
    if (run.inputs.kind != "images" or round_ != batch["round"]
        or not 0 <= pos < len(batch["indices"])):
      return flask.jsonify(error=f"no image {pos} in batch {round_}"), 404
    return flask.send_file(run.inputs.shown[batch["indices"][pos]],
                           max_age=0)

  @app.post("/api/label")
  def label():
    body = flask.request.get_json(silent=True) or {}
    ident, answer = body.get("id"), body.get("answer")
    if not isinstance(ident, str) or not isinstance(answer, str):
      return flask.jsonify(error="a label needs a string id and answer"), 400
    with guard:
      if running():
        return flask.jsonify(error="a round is training on this batch; "
                             "answer the next batch when it is shown"), 409
      try:
        previous = run.answer(ident, answer, str(body.get("client", "")))
      except ValueError as e:
        return flask.jsonify(error=str(e)), 400
    return flask.jsonify(ok=True, previous=previous and {
        "answer": previous["answer"], "client": previous["client"]})

  @app.post("/api/train")
  def train():
    with guard:
      if running():
        return flask.jsonify(error="a round is already training"), 409
      if run.batch["done"]:
        return flask.jsonify(error="the labelling budget is spent"), 400
      training["error"] = None

      def work():
        t0 = time.perf_counter()
        try:
          record = run.train_round(progress)
          training["last_s"] = round(time.perf_counter() - t0, 1)
          log(f"round {record['round']}: {record['labeled']} labeled, "
              f"test accuracy {record['test_accuracy']}, "
              f"{training['last_s']} s")
        except Exception as e:  # noqa: BLE001 - shown on the page
          training["error"] = str(e)
          log(f"error: {e}")
        finally:
          progress.done()

      progress.set("starting")
      training["thread"] = threading.Thread(target=work, daemon=True)
      training["thread"].start()
    return flask.jsonify(started=True)

  return app


def check_port(port: int) -> None:
  """A one-line ValueError if 127.0.0.1:`port` cannot be served."""
  if not 0 <= port <= 65535:
    raise ValueError(f"--port must be in 0..65535, got {port}")
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      s.bind(("127.0.0.1", port))
    except OSError as e:
      if e.errno == errno.EADDRINUSE:
        raise ValueError(f"port {port} is already in use on 127.0.0.1; "
                         f"pass another --port (0 picks a free one)") from None
      raise ValueError(f"cannot serve on port {port}: {e.strerror}") from None


def serve(run: rounds_lib.LabelRun, port: int, log=print) -> None:
  """Serves the page until interrupted (Ctrl-C)."""
  from werkzeug.serving import make_server
  check_port(port)
  server = make_server("127.0.0.1", port, make_app(run, log), threaded=True)
  print(f"labelling page: http://127.0.0.1:{server.server_port}/ "
        f"(answers are saved as you give them; Ctrl-C stops)", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    log("stopped; run the same command to go on")
  finally:
    server.server_close()
