"""Testing aids for cocors and its users.

- :mod:`cocors.testing.reference`: a slow, readable pure-Python Mask API with pycocotools'
  exact behaviour, the oracle of cocors' property tests.
- :mod:`cocors.testing.strategies`: Hypothesis strategies for masks, polygons, boxes and RLEs
  (valid and malformed); needs the optional ``hypothesis`` dependency (``cocors[testing]``).
"""
