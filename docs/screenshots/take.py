r"""Screenshots of three pages of the built site, with headless Chromium
(Debian's `chromium` package):

  mkdocs build --strict && python docs/screenshots/take.py

The site is served from `site/` on a local port; each page is taken at
1280 px wide into `docs/screenshots/<name>.png`.
"""

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# name: (path, window height): the tutorial down to its figure.
PAGES = {"home": ("", 1600), "api_acquisition": ("api/acquisition/", 1600),
         "tutorial_own_arrays": ("tutorials/own_arrays/", 2700)}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--site", default=os.path.join(ROOT, "site"))
  ap.add_argument("--chromium", default=shutil.which("chromium") or
                  "chromium")
  args = ap.parse_args()
  if not os.path.isfile(os.path.join(args.site, "index.html")):
    raise SystemExit(f"no site in {args.site}: run mkdocs build first")
  handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                              directory=args.site)
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    for name, (path, height) in PAGES.items():
      out = os.path.join(HERE, f"{name}.png")
      url = f"http://127.0.0.1:{server.server_port}/{path}"
      subprocess.run([args.chromium, "--headless", "--no-sandbox",
                      "--disable-gpu", "--hide-scrollbars",
                      f"--window-size=1280,{height}",
                      "--virtual-time-budget=5000",
                      f"--screenshot={out}", url], check=True,
                     capture_output=True, timeout=120)
      print(f"{url} -> {os.path.relpath(out, ROOT)}")
  finally:
    server.shutdown()


if __name__ == "__main__":
  main()
