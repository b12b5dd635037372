"""`python -m experiments.label`: labelling by a person (see __main__)."""
