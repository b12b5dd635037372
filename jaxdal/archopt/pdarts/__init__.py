"""PDARTS (Chen et al., ICCV 2019): progressive differentiable architecture
search.

Search cells mix 8 candidate operations per edge with softmax weights of
architecture parameters (`alphas_normal`, `alphas_reduce`, shared by all
normal / all reduction cells); stages drop the weakest operations
(8 -> 5 -> 3 -> 1 per edge) and finally keep two incoming edges per node.
Spec: reference/architecture-optimisation-spec.md §4 (the official
`chenxin061/pdarts` behaviour). Channels-last (NHWC) throughout.

Modules, split as the official code: `ops` (candidate operations),
`supernet` (search cells and network), `genotype` (dropping operations,
deriving and (de)serialising genotypes), `search` (the three-stage
search), `derived` (the evaluation network of a genotype), `method` (the
`SearchMethod` the loop runs, its console line and figure).

Note: `pdarts.search` is the search function; the module of that name is
`jaxdal.archopt.pdarts.search` (import its names with `from ... import`).
"""

from jaxdal.archopt.pdarts.derived import DerivedCell, DerivedNetwork
from jaxdal.archopt.pdarts.genotype import (
    NUM_TO_DROP,
    NUM_TO_KEEP,
    PUBLISHED,
    Genotype,
    derive_genotype,
    drop_operations,
    genotype_from_dict,
    genotype_to_dict,
)
from jaxdal.archopt.pdarts.method import SPEC, describe, draw, make
from jaxdal.archopt.pdarts.ops import (
    NONE,
    PRIMITIVES,
    SKIP,
    DilConv,
    FactorizedReduce,
    MixedOp,
    Operation,
    ReLUConvBN,
    SepConv,
)

# Bound after `method` imported the module `pdarts.search`: the package
# attribute `search` is the function.
from jaxdal.archopt.pdarts.search import (
    ARCH_PARAMS,
    SearchConfig,
    search,
    search_optimizers,
)
from jaxdal.archopt.pdarts.supernet import (
    NUM_EDGES,
    STEPS,
    Cell,
    SearchNetwork,
    alphas_on,
    cell_plan,
    edge_inputs,
    reduction_cells,
    skip_dropout_rate,
    stem,
    switch_mask,
)

__all__ = [
    "ARCH_PARAMS", "NONE", "NUM_EDGES", "NUM_TO_DROP", "NUM_TO_KEEP",
    "PRIMITIVES", "PUBLISHED", "SKIP", "SPEC", "STEPS", "Cell", "DerivedCell",
    "DerivedNetwork", "DilConv", "FactorizedReduce", "Genotype", "MixedOp",
    "Operation", "ReLUConvBN", "SearchConfig", "SearchNetwork", "SepConv",
    "alphas_on", "cell_plan", "derive_genotype", "describe", "draw",
    "drop_operations", "edge_inputs", "genotype_from_dict", "genotype_to_dict",
    "make", "reduction_cells", "search", "search_optimizers",
    "skip_dropout_rate", "stem", "switch_mask",
]
