"""Contact sheets: a batch's images on one PNG, numbered as the rows of its
query CSV, for labelling without a browser."""

import os

__all__ = ["contact_sheet"]


def contact_sheet(files: list[str], path: str, *, thumb: int = 96,
                  columns: int = 8) -> None:
  """Writes the images `files` as a grid to `path` (PNG), each with its
  1-based row number; an unreadable file's tile says so."""
  from PIL import Image, ImageDraw
  rows = max(1, -(-len(files) // columns))
  tile = thumb + 16
  sheet = Image.new("RGB", (columns * tile, rows * tile), "white")
  draw = ImageDraw.Draw(sheet)
  for n, file in enumerate(files):
    x, y = (n % columns) * tile, (n // columns) * tile
    try:
      with Image.open(file) as im:
        sheet.paste(im.convert("RGB").resize((thumb, thumb)), (x + 8, y + 14))
    except OSError:
      draw.text((x + 8, y + 14 + thumb // 2), "unreadable", fill="red")
    draw.text((x + 8, y + 1), str(n + 1), fill="black")
  tmp = path + ".tmp.png"
  sheet.save(tmp)
  os.replace(tmp, path)
