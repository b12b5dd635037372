"""What a run prints before its table: the network with every argument."""

from jaxdal import archopt, console, models


def test_network_line_fills_in_the_defaults():
  line = console.network_line("mlp", models.get("mlp"), {"hidden": [64]})
  assert line == ("network: mlp(hidden=[64], activation='relu', "
                  "dropout_rate=0.3)")


def test_network_line_of_a_method():
  line = console.network_line("depth_dropout",
                              archopt.get("depth_dropout").make,
                              {"width": 8})
  assert line.startswith("network: depth_dropout(truncation=20, width=8, "
                         "samples=2, eval_samples=0, example_masks=False, "
                         "a_init=1.1, ")
