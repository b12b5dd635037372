"""settings.py: the run schema, built from a flat config in one call."""

import ml_collections
import pytest

from jaxdal import plan
from jaxdal import settings as settings_lib
from jaxdal.settings import Settings


def test_flat_fields_land_in_their_specs_and_round_trip():
  s = Settings.of(dataset="synthetic", rounds=3, batch_size=16,
                  method="bbdropout", mode="spo")
  assert (s.data.dataset, s.active.rounds, s.fit.batch_size,
          s.arch.method, s.arch.mode) == ("synthetic", 3, 16, "bbdropout",
                                          "spo")
  assert Settings.of(**s.to_dict()) == s
  assert s.replace(seed=4).active.seed == 4
  assert s.replace(seed=4).to_dict() == {**s.to_dict(), "seed": 4}


def test_to_dict_is_the_flat_config_json_of_earlier_runs():
  # The 35 fields of the flat schema that runs before the nested specs
  # wrote to config.json (their workdirs still resume), and the fields
  # added since.
  assert sorted(Settings().to_dict()) == sorted([
      "complexity", "query_pool", "calibrate", "stop_when", "max_labels",
      "stop_set", "ensemble"] + """
      dataset backbone backbone_kwargs method method_kwargs mode train_arch
      dataset_kwargs acquisition rounds initial acquire seed val_fraction
      val_size test_size pool_size batch_size max_epochs patience
      target_train_accuracy optimizer learning_rate momentum weight_decay
      schedule mc_samples warm_start augment pretrain pretrain_epochs
      pretrain_steps chunk data_dir download""".split())


def test_unknown_field_is_one_line_naming_the_valid_ones():
  with pytest.raises(ValueError, match=r"unknown setting 'round'; valid: "
                     r"acquire, acquisition, augment"):
    Settings.of(round=3)


def test_target_train_accuracy_is_a_fraction_or_never():
  for ok in (0.5, 1, 1.0, None):
    settings_lib.validate(Settings.of(target_train_accuracy=ok))
  never = Settings.from_config({"target_train_accuracy": 0.0})
  assert never.fit.target_train_accuracy is None
  assert Settings.from_config({"target_train_accuracy": 0.9}
                              ).fit.target_train_accuracy == 0.9


def test_from_config_reads_flag_shaped_values():
  c = ml_collections.ConfigDict(dict(
      dataset="synthetic", val_size=0, test_size=200, pool_size=0,
      data_dir="", backbone_kwargs='{"depth": 2}', dataset_kwargs="{}"))
  s = Settings.from_config(c)
  assert s.data.val_size is None and s.data.pool_size is None
  assert s.data.test_size == 200 and s.data.data_dir is None
  assert s.arch.backbone_kwargs == {"depth": 2}
  with pytest.raises(ValueError, match=r"--backbone_kwargs must be a JSON "
                     r"object, got '\[1\]'"):
    Settings.from_config({"backbone_kwargs": "[1]"})


@pytest.mark.parametrize("flat,message", [
    (dict(method="bbdropout", optimizer="sgd"),
     "optimizer 'sgd' does not apply to method 'bbdropout'"),
    (dict(method="cnn5", weight_decay=5e-4),
     "weight_decay 0.0005 does not apply to method 'cnn5'"),
    (dict(method="depth_dropout", backbone="resnet18"),
     "backbone 'resnet18' does not apply to method 'depth_dropout'"),
    (dict(mode="spo"), "mode 'spo' needs an architecture to optimise; "
     "backbone 'cnn' is fixed"),
    (dict(train_arch=False), "--notrain_arch needs an architecture"),
    (dict(method="cnn1", mode="upo"), "mode 'upo' needs an architecture"),
    (dict(schedule="step"), "unknown schedule 'step'; valid: constant, "
     "cosine, multistep"),
    (dict(acquisition="bald", mc_samples=1), "needs mc_samples >= 2"),
    (dict(rounds=0), "rounds must be a positive integer, got 0"),
    (dict(method="pdarts", pretrain="deepcluster"),
     "leave --pretrain at none"),
    (dict(target_train_accuracy=2), r"target_train_accuracy must be a "
     r"fraction in \(0, 1\] \(or 0: never stop on training accuracy\), "
     r"got 2"),
    (dict(target_train_accuracy=1.01), "got 1.01"),
    (dict(target_train_accuracy=-0.5), "got -0.5"),
    (dict(target_train_accuracy="0.9"), "got '0.9'"),
])
def test_settings_that_do_not_apply_are_refused(flat, message):
  with pytest.raises(ValueError, match=message):
    plan.make(Settings.of(**flat))


def test_the_schema_imports_no_method_model_or_data():
  from tests.conftest import modules_loaded_by
  assert modules_loaded_by("import jaxdal.settings", (
      "jaxdal.archopt", "jaxdal.models", "jaxdal.data", "jaxdal.plan",
      "jaxdal.context", "flax")) == []


def test_stop_when_names_the_stopping_criteria():
  from jaxdal import settings, stopping_criteria
  assert settings.STOP_WHEN == stopping_criteria.CRITERIA
