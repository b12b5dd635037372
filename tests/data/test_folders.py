"""jaxdal.data.folders: images read as Pillow decodes them; unreadable
files listed; tables checked."""

import numpy as np
import pytest
from PIL import Image

from jaxdal.data import folders


def test_image_folder_pixels_and_unreadable(tmp_path):
  rng = np.random.default_rng(0)
  grey = rng.integers(0, 256, (10, 10), dtype=np.uint8)
  Image.fromarray(grey).save(tmp_path / "b.png")
  (tmp_path / "sub").mkdir()
  Image.fromarray(grey[::-1]).save(tmp_path / "sub" / "a.png")
  (tmp_path / "c.jpg").write_bytes(b"\xff\xd8 broken")
  (tmp_path / "notes.txt").write_text("ignored")
  images = folders.image_folder(str(tmp_path), size=10)
  assert images.ids == ["b.png", "sub/a.png"]
  assert images.x.shape == (2, 10, 10, 1)
  np.testing.assert_allclose(images.x[0, ..., 0], grey / 255, atol=1e-6)
  assert [u[0] for u in images.unreadable] == ["c.jpg"]
  small = folders.image_folder(str(tmp_path), size=5)
  want = np.asarray(Image.fromarray(grey).resize((5, 5), Image.BILINEAR))
  np.testing.assert_allclose(small.x[0, ..., 0], want / 255, atol=1e-6)


def test_colour_folder_has_three_channels(tmp_path):
  Image.new("RGB", (6, 6), (255, 0, 0)).save(tmp_path / "r.png")
  Image.new("L", (6, 6), 128).save(tmp_path / "g.png")
  x = folders.image_folder(str(tmp_path), size=6).x
  assert x.shape == (2, 6, 6, 3)
  np.testing.assert_allclose(x[1, 0, 0], [1, 0, 0])


def test_bad_folders_and_tables(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    folders.image_folder(str(tmp_path / "nope"), size=8)
  with pytest.raises(ValueError, match="holds no image"):
    folders.image_folder(str(tmp_path), size=8)
  table = tmp_path / "t.csv"
  table.write_text("id,text\n1,a\n2,b\n1,c\n")
  with pytest.raises(ValueError, match=r"duplicate ids \['1'\]"):
    folders.text_table(str(table))
  table.write_text("key,text\n1,a\n")
  with pytest.raises(ValueError, match="no column 'id'"):
    folders.text_table(str(table))
  jsonl = tmp_path / "t.jsonl"
  jsonl.write_text('{"id": "x", "text": "hello"}\n{"id": "y", "text": "hi"}\n')
  assert folders.text_table(str(jsonl)) == (["x", "y"], ["hello", "hi"])
