"""Lead scoring models: features, training, calibration, explanations, evaluation, leakage guard.

Plain scikit-learn-style code: no database, web or other leadrank package is imported here
(only ``leadrank.errors``).
"""

import os

# LightGBM uses OpenMP. With the default (active) wait policy, its threads spin while waiting and
# training slows down 3-7x as soon as another process competes for the CPUs (measured on the
# 2-core development machine: 300 rounds took 30 s instead of 5 s). Passive waiting costs little
# on an idle machine. It must be set before the OpenMP runtime loads, i.e. before lightgbm.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
