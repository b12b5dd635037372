"""Selection over pools larger than a device: host arrays in, device chunks.

The in-memory selectors (`kcenter_greedy`, `badge`, `top_k` of a score)
hold `[N, D]` features on the device. Here the features (or MC
probabilities) stay on the host, as NumPy arrays or memory-mapped `.npy`
files (`numpy.load(path, mmap_mode="r")`), and each step moves one
`[chunk, D]` block to the device, so device memory is O(chunk * D) whatever
N is; the host keeps O(N) scalars (running distances, scores).

- `kcenter_greedy`: coreset's k-center greedy, with exact block pruning by
  the triangle inequality (same picks with or without; `prune="auto"`
  decides from the data whether it pays).
- `badge`: BADGE's k-means++ seeding on the factorised gradient embedding.
- `scores`: any `probs -> [N]` score (BALD, entropy, ...) chunk by chunk.
- `top_k`: the k highest of such scores.

The selectors take the in-memory ones' arguments, `(key, k, available, *,
<named data>, ...)`, on host arrays.

Pick i of a sampled selector draws with `fold_in(key, i)` and, per block b,
`fold_in(fold_in(key, i), b)` (one block: the key itself, which is exactly
the in-memory draw).
"""

from jaxdal.acquisition.streamed.badge import badge
from jaxdal.acquisition.streamed.coreset import (
    LABELED_BLOCK,
    PRUNE_CHOICES,
    PRUNE_PAYS_BELOW,
    kcenter_greedy,
)
from jaxdal.acquisition.streamed.scoring import scores, top_k

__all__ = ["LABELED_BLOCK", "PRUNE_CHOICES", "PRUNE_PAYS_BELOW", "badge",
           "kcenter_greedy", "scores", "top_k"]
