"""The tiny examples in docstrings run and print what they claim."""

import doctest

import pytest

from jaxdal import rank_correlation
from jaxdal.acquisition import scores, selection
from jaxdal.data import batching


@pytest.mark.parametrize("module", [scores, selection, batching,
                                    rank_correlation])
def test_docstring_examples(module):
  result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
  assert result.attempted > 0
  assert result.failed == 0
